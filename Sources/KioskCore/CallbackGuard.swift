public import Foundation
import CentralWire
import StateFiles

/// Slows down anyone flooding the coordinators with call-back requests from the kiosk (anyone may ask
/// for one, card or not): at most ``limit`` call-backs in any ``window``; then `429` until the oldest
/// of them leaves the window.
///
/// The times of recent call-backs are kept in a small file in the state directory (mode 0600), written
/// before each answer, so restarting `kioskd` does not lift the limit.
public actor CallbackGuard {
    /// Call-backs allowed in one window.
    public let limit: Int
    /// The sliding window.
    public let window: Duration
    private let path: String?
    private var stamps: [Date]

    struct State: Codable {
        var stamps: [Date]
    }

    /// A guard persisted at `path` (`nil`: in memory only, for tests of other parts).
    public init(path: String?, limit: Int = 5, window: Duration = .seconds(600)) {
        self.path = path
        self.limit = max(1, limit)
        self.window = window
        if let path, let data = FileManager.default.contents(atPath: path),
           let saved = try? JSONDecoder().decode(State.self, from: data) {
            stamps = saved.stamps
        } else {
            // A missing or unreadable file starts afresh; an attacker who could delete it could also stop kioskd.
            stamps = []
        }
    }

    /// Seconds until another call-back may be asked for, or `nil` when one may be asked for now.
    public func secondsLeft(now: Date = Date()) -> Int? {
        let recent = inWindow(now)
        guard recent.count >= limit, let oldest = recent.first else { return nil }
        let free = oldest.addingTimeInterval(seconds)
        return max(1, Int(free.timeIntervalSince(now).rounded(.up)))
    }

    /// Records one call-back taken.
    public func record(now: Date = Date()) {
        stamps = inWindow(now) + [now]
        guard let path, let data = try? JSONEncoder().encode(State(stamps: stamps)) else { return }
        try? StateFiles.writeAtomically(Array(data), to: path)
    }

    private var seconds: TimeInterval { Double(window.components.seconds) }

    private func inWindow(_ now: Date) -> [Date] {
        stamps.filter { $0 > now.addingTimeInterval(-seconds) && $0 <= now.addingTimeInterval(60) }.sorted()
    }
}

/// The kiosk's number in its tickets (``CentralWire/Ticket``).
public enum KioskTicketNumber {
    /// First number used for kiosks that were not given one by the central.
    public static let unenrolledBase = 27_000
    /// How many numbers there are for them (27 000 … 809 999: four ticket characters).
    public static let unenrolledSpan = 783_000

    /// The number the central gave the kiosk, carried in its token (`cusk_<code>_<secret>`); without a
    /// central, or with an older token, 27 000 plus a stable hash of the kiosk's name modulo 783 000.
    ///
    /// Only the central's numbers are unique: two kiosks without one may share a number by chance (their
    /// tickets then differ only if their sequences do), so only enrolled kiosks' tickets are guaranteed unique.
    public static func number(centralToken: String?, kioskName: String) -> Int {
        if let token = centralToken, let n = Ticket.kioskNumber(inToken: token) { return n }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a 64
        for byte in kioskName.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return unenrolledBase + Int(hash % UInt64(unenrolledSpan))
    }
}
