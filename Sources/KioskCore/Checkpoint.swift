public import CardCheck
public import CardModel
public import Foundation
public import KioskMetrics
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

    /// A card holder's short-lived session, opened by a valid verdict: what the service rules need.
    public struct Session: Sendable, Equatable {
        public var id: String
        /// Kept in memory only, so later actions never need the screen to send a number back.
        public var cardNumber: CardNumber
        /// Every entitlement on the card, current or not, with roles and dates (for eligibility, fees and
        /// the last day a service may take place).
        public var entitlements: [Entitlement]
        /// `unverified` when the session was opened by a typed number.
        public var identity: Identity
        /// The chip that opened the session: when it leaves the reader, the session ends.
        public var chip: ChipUID?
        public var expires: Date
    }

    /// The kiosk's clock compared with the replica's last refresh, for the status page and the screen.
    public struct ClockReport: Sendable, Equatable {
        /// False when the clock says a time before the replica's last sync or import: dates are then
        /// judged from that day instead (a Raspberry Pi without a real-time clock boots in the past).
        public var ok: Bool
        /// When the replica was last refreshed, by this kiosk's clock at the time.
        public var lastRefresh: Date?
    }

    /// How far behind the last refresh the clock may be before it is reported (NTP steps, a slow RTC).
    public static let clockTolerance: TimeInterval = 120

    public nonisolated let replica: Replica
    public nonisolated let events: EventHub
    private let policy = CheckPolicy()
    private let clock: any KioskClock
    private let retention: Retention
    private let logger: Logger
    private let metrics: KioskMetrics
    private var recent: [CheckEvent] = []
    private var session: Session?
    private var sessionTimer: Task<Void, Never>?
    /// `partner`: verdicts never carry a name and open no session (a partner's desk takes no requests).
    public nonisolated let partnerMode: Bool

    public init(
        replica: Replica, clock: any KioskClock = SystemClock(), retention: Retention = Retention(), events: EventHub = EventHub(),
        metrics: KioskMetrics = .disabled, partnerMode: Bool = false, logger: Logger
    ) {
        self.partnerMode = partnerMode
        self.replica = replica
        self.metrics = metrics
        self.clock = clock
        self.retention = retention
        self.events = events
        self.logger = logger
    }

    /// Checks a presented card against the replica and announces the verdict.
    ///
    /// Never throws: a replica failure is logged and answered as `unreadable`, so a resident
    /// always gets an answer on screen.
    /// - Parameter detectedAt: when the reader saw the card, for the tap→verdict latency metric.
    /// - Parameter revealHolder: for verification mode: the answer (not the announced event) carries the holder's
    ///   name for a typed number too, so staff can compare it with an ID document. Never in partner mode.
    @discardableResult
    public func check(
        _ presentation: Presentation, source: CheckEvent.Source, detectedAt: ContinuousClock.Instant? = nil, revealHolder: Bool = false
    ) -> CheckEvent {
        let now = clock.now()
        let clockDay = CivilDate(now, in: .warsaw)
        var result: CheckResult
        var record: CardRecord?
        do {
            // Never judge dates by a clock that went back behind the data: the last refresh's day is the floor.
            let today = max(clockDay, try replica.lastRefreshed().map { CivilDate($0, in: .warsaw) } ?? clockDay)
            switch presentation {
            case .typed(let number): record = try replica.card(number: number)
            case .chip(let uid, _, let signed):
                // The chip itself, or for a signed chip the replica does not know, its number's current card:
                // the policy accepts the signature only when the number is unknown too.
                record = try replica.card(uid: uid)
                if record == nil, let signed { record = try replica.card(number: signed.number) }
            case .unreadable, .counterfeit: record = nil
            }
            result = policy.verdict(for: record, presentation: presentation, today: today)
        } catch {
            logger.error("replica lookup failed", metadata: ["error": "\(error.code.rawValue)"])
            result = policy.verdict(for: nil, presentation: .unreadable(technology: nil), today: clockDay)
            result.reasonCode = "replica_error"
        }

        let identity: Identity
        let chip: ChipUID?
        switch presentation {
        case .typed: (identity, chip) = (.unverified, nil)
        case .chip(let uid, _, _): (identity, chip) = (.verified, uid)
        case .counterfeit(let uid, _, _): (identity, chip) = (.verified, uid)
        case .unreadable: (identity, chip) = (.verified, nil)
        }

        // Any new presentation ends the previous holder's session.
        closeSession()
        var sessionID: String?
        if result.verdict == .valid, !partnerMode, let number = record?.number ?? Self.number(of: presentation) {
            let id = Self.newSessionID()
            // The replica's entitlements with their dates; for a signed card it does not know yet, those the
            // check found valid today (their first day unknown, so taken as today).
            let today = self.today(at: now)
            let entitlements = record?.entitlements ?? result.entitlements.map {
                Entitlement(kind: $0.kind, role: $0.role, validFrom: today, validUntil: $0.validUntil)
            }
            session = Session(
                id: id, cardNumber: number, entitlements: entitlements, identity: identity, chip: chip,
                expires: now.addingTimeInterval(Double(retention.sessionLifetime.components.seconds))
            )
            startSessionTimer(id: id)
            sessionID = id
        }
        var event = CheckEvent(source: source, at: now, result: result, identity: identity, session: sessionID)
        if partnerMode { event.holder = nil }
        // The holder's own screen at their tap; a typed number (anyone's) never opens it.
        if sessionID != nil, chip != nil, let number = session?.cardNumber {
            do { event.preferences = try replica.preferences(number: number) } catch {
                logger.warning("screen preferences could not be read", metadata: ["error": "\(error.code.rawValue)"])
            }
        }
        remember(event.redacted, now: now)
        events.publish(.check(event))
        if let detectedAt { metrics.tapToVerdict(.now - detectedAt) }
        metrics.checked(source: source == .tap ? .tap : .typed, verdict: result.verdict.rawValue)
        logger.info(
            "card checked",
            metadata: ["source": "\(source.rawValue)", "card": "\(result.card.masked)", "verdict": "\(result.verdict.rawValue)", "reason": "\(result.reasonCode)"]
        )
        if revealHolder && !partnerMode { event.holder = result.holderDisplayName }
        return event
    }

    /// What came of asking to store or forget a holder's screen preferences.
    public enum PreferencesChange: Sendable, Equatable {
        /// Stored (or forgotten); `preferences` is what the card has now.
        case done(ScreenPreferences?)
        /// No such session, or it ended.
        case sessionExpired
        /// The session was opened by a typed number: only the card's holder, with the card on the reader, may.
        case cardRequired
        /// The registry has no record of this card yet (a signed card the replica does not know).
        case noRecord
        /// The replica could not be written (logged).
        case failed
    }

    /// Stores `preferences` with the card of session `id` (`nil` forgets them), for a tapped card's session only.
    public func changePreferences(session id: String, to preferences: ScreenPreferences?) -> PreferencesChange {
        guard let current = session, current.id == id, current.expires > clock.now() else { return .sessionExpired }
        guard current.identity == .verified, current.chip != nil else { return .cardRequired }
        do {
            if let preferences {
                guard try replica.setPreferences(preferences, number: current.cardNumber, at: clock.now()) else { return .noRecord }
            } else {
                try replica.forgetPreferences(number: current.cardNumber)
            }
        } catch {
            logger.error("screen preferences could not be stored", metadata: ["error": "\(error.code.rawValue)"])
            return .failed
        }
        logger.info(preferences == nil ? "screen preferences forgotten" : "screen preferences stored", metadata: ["card": "\(current.cardNumber.masked)"])
        return .done(preferences)
    }

    /// The day rules are judged by: today in Warsaw, never before the replica's last refresh (a kiosk
    /// whose clock went back must not judge dates by it).
    public func today() -> CivilDate { today(at: clock.now()) }

    /// The kiosk's clock now.
    public func now() -> Date { clock.now() }

    private func today(at now: Date) -> CivilDate {
        let clockDay = CivilDate(now, in: .warsaw)
        let refreshed = (try? replica.lastRefreshed())?.map { CivilDate($0, in: .warsaw) }
        return max(clockDay, refreshed ?? clockDay)
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

    /// Gives the open session `id` its whole lifetime again ("Czy potrzebujesz więcej czasu?" — "Tak").
    /// - Returns: the seconds it now has, or `nil` when it is not the open session.
    public func extendSession(id: String) -> Int? {
        guard let s = session, s.id == id, s.expires > clock.now() else { return nil }
        let lifetime = retention.sessionLifetime
        session?.expires = clock.now().addingTimeInterval(Double(lifetime.components.seconds))
        startSessionTimer(id: id)
        return Int(lifetime.components.seconds)
    }

    /// Ends session `id` when its lifetime runs out, replacing any earlier timer.
    private func startSessionTimer(id: String) {
        let lifetime = retention.sessionLifetime
        sessionTimer?.cancel()
        sessionTimer = Task { [weak self] in
            try? await Task.sleep(for: lifetime)
            guard !Task.isCancelled else { return }
            await self?.endSession(id: id, reason: .timeout)
        }
    }

    /// Ends the session `id` if it is the open one, and tells the screens; returns whether it was open.
    @discardableResult
    public func endSession(id: String, reason: SessionEnd.Reason) -> Bool {
        guard let s = session, s.id == id else { return false }
        closeSession()
        events.publish(.sessionEnded(SessionEnd(session: s.id, reason: reason)))
        logger.info("session ended", metadata: ["reason": "\(reason.rawValue)"])
        return true
    }

    /// A card left the reader: ends the session it opened, if that is the open one.
    public func cardRemoved(uid: ChipUID) {
        guard let s = session, s.chip == uid else { return }
        endSession(id: s.id, reason: .cardRemoved)
    }

    /// The clock compared with the replica's last refresh.
    public func clockReport() -> ClockReport {
        let refreshed = try? replica.lastRefreshed()
        let behind = refreshed.map { clock.now() < $0.addingTimeInterval(-Self.clockTolerance) } ?? false
        return ClockReport(ok: !behind, lastRefresh: refreshed)
    }

    private func closeSession() {
        session = nil
        sessionTimer?.cancel()
        sessionTimer = nil
    }

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
