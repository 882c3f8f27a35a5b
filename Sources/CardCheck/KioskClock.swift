public import CardModel
public import Foundation

/// Where the kiosk gets "now" from: the system clock in production, a fixed instant in tests.
public protocol KioskClock: Sendable {
    /// The current instant.
    func now() -> Date
}

extension KioskClock {
    /// Today in Europe/Warsaw, the day every check is made for.
    public func today() -> CivilDate { CivilDate(now(), in: .warsaw) }
}

/// The system's wall clock.
public struct SystemClock: KioskClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that always says the same instant (tests, demos of a given day).
public struct FixedClock: KioskClock {
    public let instant: Date
    public init(_ instant: Date) { self.instant = instant }
    public func now() -> Date { instant }
}
