import Foundation
import KioskCore
import Synchronization

/// How far the snapshot download into the replica has got, for `/api/v1/status`; updated once per
/// batch by the sync task, read by status requests at any time.
///
/// A download shows only once the central has answered it: an attempt against a central that cannot
/// be reached is not a bootstrap, and an offline kiosk must not say "Przygotowanie danych…".
final class BootstrapTracker: Sendable {
    private struct Running {
        var started: Date
        var clock: ContinuousClock.Instant
        var cards = 0
        var total: Int?
        var answered = false
    }

    private let state = Mutex<Running?>(nil)

    /// A download is asked for (nothing shows until the central answers).
    func begin() {
        state.withLock { $0 = Running(started: Date(), clock: .now) }
    }

    /// The snapshot's header announced `total` cards.
    func announce(total: Int) {
        state.withLock {
            $0?.total = total
            $0?.answered = true
        }
    }

    /// `cards` are stored so far.
    func stored(_ cards: Int) {
        state.withLock {
            $0?.cards = cards
            $0?.answered = true
        }
    }

    /// The download is over (committed, failed or cancelled).
    func end() {
        state.withLock { $0 = nil }
    }

    /// The running download's progress, or `nil` when none runs or the central has not answered yet.
    var info: StatusReport.BootstrapInfo? {
        guard let running = state.withLock({ $0 }), running.answered else { return nil }
        return Self.info(cards: running.cards, total: running.total, elapsed: .now - running.clock, started: running.started)
    }

    /// Percent and time left from the cards stored so far and the time they took.
    static func info(cards: Int, total: Int?, elapsed: Duration, started: Date) -> StatusReport.BootstrapInfo {
        var percent: Int?
        var eta: Int?
        if let total {
            percent = total > 0 ? min(100, cards * 100 / total) : 100
            if cards > 0 {
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                eta = Int((seconds * Double(max(0, total - cards)) / Double(cards)).rounded(.up))
            }
        }
        return .init(cards: cards, total: total, percent: percent, etaSeconds: eta, started: started)
    }
}
