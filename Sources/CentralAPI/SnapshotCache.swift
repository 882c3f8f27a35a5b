import CentralStore
import NIOCore
import Synchronization

/// The last complete registry snapshot, as the gzip bytes sent, kept in memory and sent again to the next
/// kiosks while the change feed can still bring them from it to the head.
///
/// Encoding and compressing a snapshot is most of what a bootstrap costs the central (a million cards are
/// a few seconds of a core), and a fleet re-bootstrapping after an outage would pay it once per kiosk. A
/// kept snapshot is taken at an older sequence number than the head: the kiosk follows the feed from there
/// as after any bootstrap, so it ends at the same registry. It is sent only while nothing it needs was
/// pruned from the feed and the feed has moved on by at most ``maxLag(cards:)`` entries since; otherwise
/// the next snapshot is encoded afresh and kept in its place. Kept only in memory: no second copy of the
/// registry on the central's disk. One process keeps its own; several `cus-central serve` processes on one
/// PostgreSQL each keep theirs, judged against the same feed.
public final class SnapshotCache: Sendable {
    /// One snapshot, as sent.
    struct Entry: Sendable {
        /// The feed sequence number the snapshot was taken at (its header's `seq`).
        let seq: Int64
        /// Its header's card count.
        let cards: Int
        /// The gzip body, in the order sent.
        let segments: [ByteBuffer]
    }

    private struct State {
        var entry: Entry?
        var building = false
    }

    /// Largest snapshot kept, in bytes of gzip (0: none is kept).
    public let maxBytes: Int
    private let state = Mutex(State())

    /// A cache keeping snapshots of at most `maxBytes` (gzip); 0 turns it off.
    public init(maxBytes: Int) {
        self.maxBytes = max(0, maxBytes)
    }

    /// How far the feed may have moved on since a kept snapshot of `cards` cards for it to be sent: the
    /// catch-up it leaves to the kiosk stays a small part of the bootstrap.
    public static func maxLag(cards: Int) -> Int64 { Int64(max(1_000, cards / 100)) }

    /// The kept snapshot, if the feed at `position` still leads from it to the head.
    func usable(at position: FeedPosition) -> Entry? {
        state.withLock { state in
            guard let entry = state.entry else { return nil }
            guard entry.seq >= position.prunedThrough, entry.seq <= position.head,
                  position.head - entry.seq <= Self.maxLag(cards: entry.cards)
            else { return nil }
            return entry
        }
    }

    /// Whether the snapshot about to be encoded should be recorded: one at a time, the others are only sent.
    func beginRecording() -> Bool {
        guard maxBytes > 0 else { return false }
        return state.withLock { state in
            guard !state.building else { return false }
            state.building = true
            return true
        }
    }

    /// Ends a recording: keeps `entry` (a whole snapshot, sent to the end) or, with `nil`, keeps the one before.
    func endRecording(_ entry: Entry?) {
        state.withLock { state in
            state.building = false
            if let entry { state.entry = entry }
        }
    }
}

/// Collects the gzip bytes of a snapshot being sent, in segments of about 32 KiB, up to the cache's limit.
///
/// Small segments on purpose: a kiosk inflates and parses what one write brings before it asks for more, and
/// 256 KiB of gzip is 4 MiB of NDJSON, some 12,000 cards held at once (kioskd went over 64 MiB on them).
struct SnapshotRecorder {
    private(set) var segments: [ByteBuffer] = []
    private var current = ByteBuffer()
    private var total = 0
    private let limit: Int
    /// `false` once the snapshot outgrew the limit: nothing is kept then.
    private(set) var recording: Bool

    init(limit: Int, recording: Bool) {
        self.limit = limit
        self.recording = recording
    }

    static let segmentBytes = 32 * 1024

    mutating func append(_ bytes: ByteBuffer) {
        guard recording else { return }
        total += bytes.readableBytes
        guard total <= limit else {
            recording = false
            segments = []
            current = ByteBuffer()
            return
        }
        var copy = bytes
        current.writeBuffer(&copy)
        if current.readableBytes >= Self.segmentBytes {
            segments.append(current)
            current = ByteBuffer()
        }
    }

    /// The recorded segments, the last one included.
    mutating func finish() -> [ByteBuffer] {
        if current.readableBytes > 0 { segments.append(current) }
        current = ByteBuffer()
        return segments
    }
}
