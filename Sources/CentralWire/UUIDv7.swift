import Foundation
import Synchronization

/// A UUID of version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then random bits.
///
/// Keys made by one process are strictly increasing: within one millisecond the 12-bit
/// `rand_a` field is used as a counter (RFC 9562 §6.2, method 1), and a clock that steps back
/// never makes a key sort before an earlier one.
public enum UUIDv7 {
    private struct State {
        var lastMillis: UInt64 = 0
        var counter: UInt16 = 0
    }
    private static let state = Mutex(State())

    /// A new UUIDv7 in lower-case text form, e.g. `0190b7c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d`.
    public static func make() -> String {
        make(nowMillis: UInt64(max(0, (Date().timeIntervalSince1970 * 1000).rounded(.down))))
    }

    /// A new UUIDv7 for the instant `nowMillis` (Unix milliseconds).
    public static func make(nowMillis: UInt64) -> String {
        var rng = SystemRandomNumberGenerator()
        let (millis, counter) = state.withLock { s -> (UInt64, UInt16) in
            if nowMillis > s.lastMillis {
                s.lastMillis = nowMillis
                s.counter = UInt16.random(in: 0...0x3FF, using: &rng)  // leave room to count up
            } else if s.counter < 0xFFF {
                s.counter += 1
            } else {
                // 4096 keys in one millisecond: borrow the next millisecond.
                s.lastMillis += 1
                s.counter = 0
            }
            return (s.lastMillis, s.counter)
        }
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> (8 * (5 - i))) }
        bytes[6] = 0x70 | UInt8(truncatingIfNeeded: counter >> 8)
        bytes[7] = UInt8(truncatingIfNeeded: counter)
        for i in 8..<16 { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        bytes[8] = 0x80 | (bytes[8] & 0x3F)  // RFC 9562 variant 10
        let hex = bytes.map { b in String(b, radix: 16).count == 1 ? "0" + String(b, radix: 16) : String(b, radix: 16) }
        return [hex[0..<4], hex[4..<6], hex[6..<8], hex[8..<10], hex[10..<16]].map { $0.joined() }.joined(separator: "-")
    }

    /// Whether `text` is a UUIDv7 in the canonical 8-4-4-4-12 form with the RFC 9562 variant.
    public static func isValid(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if [8, 13, 18, 23].contains(i) {
                guard c == UInt8(ascii: "-") else { return false }
            } else {
                let hex = (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
                guard hex else { return false }
            }
        }
        let variant = u[19] | 0x20
        return u[14] == UInt8(ascii: "7") && "89ab".utf8.contains(variant)
    }

    /// The Unix time in milliseconds that a UUIDv7 carries, or `nil` for text that is not one.
    public static func millis(of text: String) -> UInt64? {
        guard isValid(text) else { return nil }
        let hex = text.replacingOccurrences(of: "-", with: "").prefix(12)
        return UInt64(hex, radix: 16)
    }
}
