import Foundation
import Synchronization
public import Testing

/// Limits how many tests that start daemons, emulators or libnfc run at once in this test process.
///
/// Swift Testing starts every test at once. On a 2-core machine, dozens of kioskd, cus-central and
/// emulator processes starting together starve each other of CPU (readers time out, libnfc cannot open
/// an emulated PN532), and the test process's own descriptors pass 1024, where libnfc's `select()` aborts
/// the process. Tests marked ``Trait/spawnsProcesses`` take one of ``ProcessGate/width`` places
/// (`KIOSK_TEST_PROCESS_WIDTH`, default 3) for as long as each runs; all other tests run freely.
public struct ProcessGate: TestTrait, SuiteTrait, TestScoping {
    /// How many gated tests run at once.
    public static let width: Int = ProcessInfo.processInfo.environment["KIOSK_TEST_PROCESS_WIDTH"].flatMap { Int($0) }.map { max(1, $0) } ?? 3

    static let places = Places(width: width)

    /// Applies to every test in a suite that carries it.
    public var isRecursive: Bool { true }

    /// A place for each test case (not around a whole suite, which would hold one for all its tests).
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> ProcessGate? {
        testCase == nil ? nil : self
    }

    /// Runs the test once a place is free.
    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        await Self.places.take()
        do {
            try await function()
        } catch {
            Self.places.give()
            throw error
        }
        Self.places.give()
    }

    /// A counting semaphore for async code: waiters are resumed in order.
    final class Places: Sendable {
        private struct State {
            var free: Int
            var waiting: [CheckedContinuation<Void, Never>] = []
        }
        private let state: Mutex<State>

        init(width: Int) { state = Mutex(State(free: width)) }

        func take() async {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if s.free > 0 {
                        s.free -= 1
                        return true
                    }
                    s.waiting.append(continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        }

        func give() {
            let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if s.waiting.isEmpty {
                    s.free += 1
                    return nil
                }
                return s.waiting.removeFirst()
            }
            next?.resume()
        }
    }
}

extension Trait where Self == ProcessGate {
    /// The test starts daemons, emulators or libnfc: it waits for one of ``ProcessGate/width`` places.
    public static var spawnsProcesses: Self { ProcessGate() }
}
