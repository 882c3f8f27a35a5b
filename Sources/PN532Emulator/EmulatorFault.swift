/// A misbehaviour to inject into the emulated reader, to test how a client copes.
public enum EmulatorFault: Sendable, Equatable, Codable {
    /// Answer nothing (not even an ACK) for that long; commands received meanwhile are dropped.
    case silent(milliseconds: Int)
    /// The next answer frame (after the ACK) is random bytes.
    case garbageFrame
    /// The next answer frame has a wrong data checksum (DCS).
    case badChecksum
    /// Delay the next answer frame (after the ACK) by that long, on top of the command latency.
    case slowAnswer(milliseconds: Int)
    /// The device disappears (pty closed, device path gone) and comes back after that long on a new pty;
    /// the stable link path, if any, is re-pointed to it.
    case vanish(milliseconds: Int)
    /// The card leaves the field after N more READ/FAST_READ commands succeed (a card pulled mid-read).
    case tearAfterReads(Int)
    /// The card leaves the field after N more WRITEs are acknowledged (a card pulled mid-write).
    case tearAfterWrites(Int)

    /// Parses the control-channel words: `silent MS`, `garbage`, `bad-checksum`, `slow MS`, `vanish MS`, `tear N`, `tear-writes N`.
    ///
    /// - Throws: ``ControlCommandError`` listing the accepted forms.
    public init(words: [String]) throws(ControlCommandError) {
        func number(_ name: String) throws(ControlCommandError) -> Int {
            guard words.count == 2, let value = Int(words[1]), value >= 0 else {
                throw .invalid("fault \(name) needs one non-negative number, e.g. \"fault \(name) 1500\"")
            }
            return value
        }
        switch words.first?.lowercased() {
        case "silent": self = .silent(milliseconds: try number("silent"))
        case "garbage": self = .garbageFrame
        case "bad-checksum": self = .badChecksum
        case "slow": self = .slowAnswer(milliseconds: try number("slow"))
        case "vanish": self = .vanish(milliseconds: try number("vanish"))
        case "tear": self = .tearAfterReads(try number("tear"))
        case "tear-writes": self = .tearAfterWrites(try number("tear-writes"))
        default:
            throw .invalid(
                "unknown fault \"\(words.joined(separator: " "))\"; use one of: silent MS, garbage, bad-checksum, slow MS, vanish MS, tear N, tear-writes N"
            )
        }
    }

    /// The control-channel words for this fault (inverse of ``init(words:)``).
    public var words: [String] {
        switch self {
        case .silent(let ms): ["silent", String(ms)]
        case .garbageFrame: ["garbage"]
        case .badChecksum: ["bad-checksum"]
        case .slowAnswer(let ms): ["slow", String(ms)]
        case .vanish(let ms): ["vanish", String(ms)]
        case .tearAfterReads(let reads): ["tear", String(reads)]
        case .tearAfterWrites(let writes): ["tear-writes", String(writes)]
        }
    }
}

/// Faults waiting to fire, and the silence window.
struct PendingFaults: Sendable {
    var silentUntil: ContinuousClock.Instant?
    var garbageFrames = 0
    var badChecksums = 0
    var slowAnswer: Duration = .zero
    var vanish: Duration?
    var tearAfterReads: Int?
    var tearAfterWrites: Int?

    func isSilent(at now: ContinuousClock.Instant) -> Bool {
        guard let silentUntil else { return false }
        return now < silentUntil
    }
}
