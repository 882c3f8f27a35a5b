import CompressNIO
import CentralWire
import Foundation
import NIOCore
import Replica

/// Gzip decompression of a stream that arrives in chunks, into a fixed window.
final class StreamingInflater {
    private let decompressor: any NIODecompressor
    private var window: ByteBuffer

    /// - Throws: ``SyncError`` `.local` if zlib cannot be set up.
    init(windowBytes: Int = 256 * 1024) throws(SyncError) {
        decompressor = CompressionAlgorithm.gzip().decompressor
        window = ByteBufferAllocator().buffer(capacity: windowBytes)
        do { try decompressor.startStream() } catch { throw SyncError(.local, "cannot start gzip decompression") }
    }

    /// Inflates all of `input`, handing each window of plain bytes to `sink`.
    func inflate(_ input: inout ByteBuffer, _ sink: (inout ByteBuffer) throws(SyncError) -> Void) throws(SyncError) {
        while input.readableBytes > 0 {
            let before = input.readableBytes
            window.clear()
            do {
                try decompressor.streamInflate(from: &input, to: &window)
            } catch let error as CompressNIOError where error == .bufferOverflow || error == .inputBufferOverflow {
                // The window is full, or zlib wants more input: both are normal in a stream.
            } catch {
                throw SyncError(.malformed, "the snapshot is not valid gzip")
            }
            let produced = window.readableBytes
            if produced > 0 { try sink(&window) }
            if produced == 0 && input.readableBytes == before {
                // The gzip stream has ended but bytes follow it.
                throw SyncError(.malformed, "the snapshot has data after its gzip stream")
            }
        }
    }

    func close() {
        try? decompressor.finishStream()
    }
}

/// Splits snapshot NDJSON into lines as bytes arrive, decodes and checks each card, and collects batches.
///
/// The first line is the header `{"seq": S, "cards": N}`; every other line is one card. Holds at most one
/// partial line and one batch of cards.
struct SnapshotReader {
    let batchSize: Int
    let maxLine: Int
    let maxCards: Int
    private var partial: [UInt8] = []
    private var header: SnapshotHeader?
    private var batch: [SyncedCard] = []
    private var ready: [[SyncedCard]] = []
    private var count = 0
    private let decoder = JSONDecoder()

    init(batchSize: Int, maxLine: Int, maxCards: Int) {
        self.batchSize = max(1, batchSize)
        self.maxLine = maxLine
        self.maxCards = maxCards
        batch.reserveCapacity(self.batchSize)
    }

    /// Reads every complete line in `bytes` (keeping an unfinished last line for the next call).
    mutating func consume(_ bytes: inout ByteBuffer) throws(SyncError) {
        let view = bytes.readableBytesView
        var start = view.startIndex
        while let newline = view[start...].firstIndex(of: UInt8(ascii: "\n")) {
            if partial.isEmpty {
                try line(view[start..<newline])
            } else {
                partial.append(contentsOf: view[start..<newline])
                let whole = partial
                partial.removeAll(keepingCapacity: true)
                try line(whole[...])
            }
            start = view.index(after: newline)
        }
        if start < view.endIndex {
            guard partial.count + (view.endIndex - start) <= maxLine else {
                throw SyncError(.malformed, "a snapshot line is longer than \(maxLine) bytes")
            }
            partial.append(contentsOf: view[start...])
        }
        bytes.moveReaderIndex(forwardBy: bytes.readableBytes)
    }

    private mutating func line<C: Collection<UInt8>>(_ bytes: C) throws(SyncError) {
        guard !bytes.isEmpty else { return }
        guard bytes.count <= maxLine else { throw SyncError(.malformed, "a snapshot line is longer than \(maxLine) bytes") }
        guard let header else {
            let h = try Self.decode(SnapshotHeader.self, Data(bytes), decoder, what: "the snapshot header")
            guard h.seq >= 0, h.cards >= 0, h.cards <= maxCards else { throw SyncError(.malformed, "the snapshot header is out of range") }
            self.header = h
            return
        }
        count += 1
        guard count <= header.cards else {
            throw SyncError(.malformed, "the snapshot has more cards than its header says (\(header.cards))")
        }
        // The central's own shape is read directly; any other valid JSON goes through JSONDecoder.
        let view: CardView
        if let fast = bytes.withContiguousStorageIfAvailable(SnapshotLine.parse) ?? nil {
            view = fast
        } else {
            view = try Self.decode(CardView.self, Data(bytes), decoder, what: "a snapshot card")
        }
        batch.append(try view.synced())
        if batch.count >= batchSize {
            ready.append(batch)
            batch = []
            batch.reserveCapacity(batchSize)
        }
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ data: Data, _ decoder: JSONDecoder, what: String) throws(SyncError) -> T {
        do { return try decoder.decode(T.self, from: data) } catch {
            throw SyncError(.malformed, "\(what) is not the expected JSON")
        }
    }

    /// The card count the header announced (0 before the header).
    var announced: Int { header?.cards ?? 0 }

    /// A full batch, if one is ready; with `all`, also the last, partial one.
    mutating func takeBatch(all: Bool = false) -> [SyncedCard]? {
        if !ready.isEmpty { return ready.removeFirst() }
        if all && !batch.isEmpty {
            defer { batch = [] }
            return batch
        }
        return nil
    }

    /// The end of the body: checks nothing is left half-read and that every card announced came.
    mutating func finish() throws(SyncError) -> (seq: Int64, cards: Int) {
        if !partial.isEmpty {
            let last = partial
            partial = []
            try line(last[...])
        }
        guard let header else { throw SyncError(.malformed, "the snapshot is empty") }
        guard count == header.cards else {
            throw SyncError(.malformed, "the snapshot has \(count) cards but its header says \(header.cards) (cut short?)")
        }
        return (header.seq, header.cards)
    }
}
