public import CardCheck
public import CardModel
public import Foundation
public import Logging
public import Replica

/// The one place a presented card is checked, recorded and announced.
///
/// Both the reader loop and `POST /api/v1/check` come through here, so a tapped card and a
/// typed number get the same policy, the same recent-taps list and the same event stream.
public actor Checkpoint {
    /// What the kiosk remembers of recent verdicts, and for how long.
    public struct Retention: Sendable {
        public var maxCount: Int
        public var maxAge: Duration
        public var sessionLifetime: Duration
        public init(maxCount: Int = 200, maxAge: Duration = .seconds(3600), sessionLifetime: Duration = .seconds(180)) {
            self.maxCount = maxCount
            self.maxAge = maxAge
            self.sessionLifetime = sessionLifetime
        }
    }

    /// A card holder's short-lived session, opened by a valid verdict.
    public struct Session: Sendable, Equatable {
        public var id: String
        /// Kept in memory only, so later actions never need the screen to send a number back.
        public var cardNumber: CardNumber
        public var entitlements: [EntitlementKind]
        public var expires: Date
    }

    public nonisolated let replica: Replica
    public nonisolated let events: EventHub
    private let policy = CheckPolicy()
    private let clock: any KioskClock
    private let retention: Retention
    private let logger: Logger
    private var recent: [CheckEvent] = []
    private var session: Session?

    public init(replica: Replica, clock: any KioskClock = SystemClock(), retention: Retention = Retention(), events: EventHub = EventHub(), logger: Logger) {
        self.replica = replica
        self.clock = clock
        self.retention = retention
        self.events = events
        self.logger = logger
    }

    /// Checks a presented card against the replica and announces the verdict.
    ///
    /// Never throws: a replica failure is logged and answered as `unreadable`, so a resident
    /// always gets an answer on screen.
    @discardableResult
    public func check(_ presentation: Presentation, source: CheckEvent.Source) -> CheckEvent {
        let now = clock.now()
        let today = CivilDate(now, in: .warsaw)
        var result: CheckResult
        var record: CardRecord?
        do {
            switch presentation {
            case .typed(let number): record = try replica.card(number: number)
            case .chip(let uid, _, let signed):
                // A signed card found by its number too, so a re-issued chip not yet synced is still recognised.
                if let found = try replica.card(uid: uid) {
                    record = found
                } else if let signed {
                    record = try replica.card(number: signed.number).flatMap { $0.uid == nil || $0.uid == uid ? $0 : nil }
                } else {
                    record = nil
                }
            case .unreadable, .counterfeit: record = nil
            }
            result = policy.verdict(for: record, presentation: presentation, today: today)
        } catch {
            logger.error("replica lookup failed", metadata: ["error": "\(error.code.rawValue)"])
            result = policy.verdict(for: nil, presentation: .unreadable(technology: nil), today: today)
            result.reasonCode = "replica_error"
        }

        // Any new tap ends the previous holder's session.
        session = nil
        var sessionID: String?
        if result.verdict == .valid, let number = record?.number ?? Self.number(of: presentation) {
            let id = Self.newSessionID()
            session = Session(
                id: id, cardNumber: number, entitlements: result.entitlements.map(\.kind),
                expires: now.addingTimeInterval(Double(retention.sessionLifetime.components.seconds))
            )
            sessionID = id
        }
        let event = CheckEvent(source: source, at: now, result: result, session: sessionID)
        remember(event.redacted, now: now)
        events.publish(event)
        logger.info(
            "card checked",
            metadata: ["source": "\(source.rawValue)", "card": "\(result.card.masked)", "verdict": "\(result.verdict.rawValue)", "reason": "\(result.reasonCode)"]
        )
        return event
    }

    /// The most recent verdicts, newest first, without names or session handles.
    public func recentTaps(limit: Int) -> [CheckEvent] {
        prune(now: clock.now())
        return Array(recent.suffix(max(0, limit)).reversed())
    }

    /// The session with this id if it is still open.
    public func session(id: String) -> Session? {
        guard let s = session, s.id == id, s.expires > clock.now() else { return nil }
        return s
    }

    /// Ends the open session (the resident pressed "finish", or walked away).
    public func endSession() { session = nil }

    private func remember(_ event: CheckEvent, now: Date) {
        recent.append(event)
        prune(now: now)
    }

    private func prune(now: Date) {
        let oldest = now.addingTimeInterval(-Double(retention.maxAge.components.seconds))
        if let keepFrom = recent.firstIndex(where: { $0.at >= oldest }) {
            if keepFrom > 0 { recent.removeFirst(keepFrom) }
        } else {
            recent.removeAll()
        }
        if recent.count > retention.maxCount { recent.removeFirst(recent.count - retention.maxCount) }
    }

    private static func number(of presentation: Presentation) -> CardNumber? {
        switch presentation {
        case .typed(let n): n
        case .chip(_, _, let signed): signed?.number
        default: nil
        }
    }

    private static func newSessionID() -> String {
        var g = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        return String((0..<22).map { _ in digits[Int(g.next(upperBound: UInt64(digits.count)))] })
    }
}
