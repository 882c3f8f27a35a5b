import CardModel
public import Foundation
public import StaffAccess

/// Verification mode: a member of staff taps their staff card, types their PIN, and the kiosk then
/// shows every card's verdict full screen with the holder's name, for checking residents' cards at
/// the desk (`POST /api/v1/staff/unlock`, `POST /api/v1/staff/check`, `DELETE /api/v1/staff/session`).
///
/// One staff session at a time, held only in memory: a token that lapses after ``idle`` without use.
public actor StaffDesk {
    /// What an unlock attempt found.
    public enum Unlock: Sendable, Equatable {
        /// Verification mode is on; send `token` with each staff call.
        case unlocked(token: String, expiresIn: Int)
        /// The session is gone (card taken off, timed out): tap the staff card again.
        case sessionExpired
        /// The card that opened the session is not a staff card valid today.
        case notStaff
        /// This staff card has no PIN at this kiosk (`kioskctl staff pin set`).
        case noPIN
        /// Wrong PIN; tries left before the lock.
        case wrongPIN(triesLeft: Int)
        /// Locked after too many wrong PINs: seconds until it may be tried again.
        case locked(seconds: Int)
        /// The PIN store cannot be read.
        case unavailable(String)
    }

    /// How long verification mode stays on without a check.
    public let idle: Duration
    private let pins: StaffPINs
    private let checkpoint: Checkpoint
    private var active: (token: String, expires: Date)?

    /// A desk for `checkpoint`, with PINs from `pins`.
    public init(pins: StaffPINs, checkpoint: Checkpoint, idle: Duration = .seconds(600)) {
        self.pins = pins
        self.checkpoint = checkpoint
        self.idle = idle
    }

    /// Checks `pin` for the staff card that opened session `sessionID`.
    public func unlock(session sessionID: String, pin: String) async -> Unlock {
        guard let session = await checkpoint.session(id: sessionID) else { return .sessionExpired }
        let today = await checkpoint.today()
        guard session.identity == .verified,
              session.entitlements.contains(where: { $0.kind == .staff && $0.isValid(on: today) }) else { return .notStaff }
        let outcome: PINCheck
        do { outcome = try pins.check(pin: pin, for: session.cardNumber) } catch { return .unavailable(error.detail) }
        switch outcome {
        case .accepted:
            let token = Self.newToken()
            active = (token, Date().addingTimeInterval(seconds(idle)))
            // The staff card's own session has done its job.
            await checkpoint.endSession(id: sessionID, reason: .done)
            return .unlocked(token: token, expiresIn: Int(seconds(idle)))
        case .wrong(let left): return .wrongPIN(triesLeft: left)
        case .locked(let s): return .locked(seconds: s)
        case .noPIN: return .noPIN
        }
    }

    /// Whether `token` is the open staff session; each use keeps it open for another ``idle``.
    public func touch(_ token: String, now: Date = Date()) -> Bool {
        guard let active, StaffPINs.equal(active.token, token), active.expires > now else {
            if let active, active.expires <= now { self.active = nil }
            return false
        }
        self.active = (active.token, now.addingTimeInterval(seconds(idle)))
        return true
    }

    /// Whether verification mode is on.
    public var isActive: Bool {
        guard let active else { return false }
        return active.expires > Date()
    }

    /// Ends verification mode if `token` is its token; returns whether it was.
    @discardableResult
    public func end(_ token: String) -> Bool {
        guard let active, StaffPINs.equal(active.token, token) else { return false }
        self.active = nil
        return true
    }

    private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) }

    static func newToken() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(UInt8.random(in: 0...255, using: &rng), radix: 16).leftPadded2 }.joined()
    }
}

extension String {
    fileprivate var leftPadded2: String { count >= 2 ? self : "0" + self }
}
