import Benchmark
import BenchmarkSupport
import CardCheck
import CardFormat
import CardModel
import Foundation
import KioskCore
import Replica
import Synchronization

/// The check path on a large replica, and kioskd on it.
let benchmarks: @Sendable () -> Void = {
    Benchmark(
        "Replica: check path, status page and kioskd at BENCH_CARDS cards",
        configuration: .once(reporting: ReplicaBenchmark.figures)
    ) { benchmark in
        try await runOnce(benchmark, figures: ReplicaBenchmark.figures) { try await ReplicaBenchmark.run() }
    }

    // What a tap of a signed card costs once its memory is read: the Ed25519 check of the record,
    // the replica lookup by UID and the policy's verdict (the reader's I/O is TapBenchmark's).
    Benchmark(
        "Verdict path: signed card (Ed25519 + lookup + policy) at BENCH_CARDS cards",
        configuration: .init(
            metrics: [.wallClock, .throughput], timeUnits: .microseconds, warmupIterations: 200,
            maxDuration: .seconds(20), maxIterations: 20_000
        ),
        closure: { benchmark in
            guard let fixture = SignedVerdict.fixture.withLock({ $0 }) else { throw BenchmarkError("the setup did not run") }
            let tap = fixture.taps[Int.random(in: 0..<fixture.taps.count)]
            benchmark.startMeasurement()
            let presentation = fixture.verifier.presentation(userMemory: tap.memory, uid: tap.uid, technology: .ntag215)
            let record = try fixture.replica.card(uid: tap.uid)
            let result = fixture.policy.verdict(for: record, presentation: presentation, today: fixture.today)
            benchmark.stopMeasurement()
            guard result.verdict != .counterfeit else { throw BenchmarkError("a signed card was refused as counterfeit") }
            blackHole(result)
        },
        setup: { try SignedVerdict.prepare() },
        teardown: { SignedVerdict.fixture.withLock { $0 = nil } }
    )
}

/// The signed cards the verdict benchmark presents: chips of the benchmark's replica, each with the
/// record an issuing office would write on it.
enum SignedVerdict {
    struct Tap: Sendable {
        let uid: ChipUID
        let memory: [UInt8]
    }

    struct Fixture: Sendable {
        let replica: Replica
        let verifier: CardRecordVerifier
        let policy: CheckPolicy
        let today: CivilDate
        let taps: [Tap]
    }

    static let fixture = Mutex<Fixture?>(nil)

    static func prepare() throws {
        let (replica, _, _, cards) = try ReplicaBenchmark.replica()
        let key = CardSigningKey.generate(keyID: 1)
        let until = try CivilDate(iso: "2030-09-30")
        var taps: [Tap] = []
        var rng = SystemRandomNumberGenerator()
        while taps.count < 2_000 {
            let i = Int.random(in: 0..<cards, using: &rng)
            guard i % 10 != 9 else { continue }  // the replica's printed cards have no chip
            let uid = ReplicaBenchmark.uid(i)
            let content = CardRecordContent(number: ReplicaBenchmark.number(i), entitlements: [.senior60], validUntil: until)
            taps.append(Tap(uid: uid, memory: try CardRecordEncoder.userMemory(for: content, uid: uid, key: key, tag: .ntag215)))
        }
        try ReplicaBenchmark.warm(replica, cards: cards)
        fixture.withLock {
            $0 = Fixture(replica: replica, verifier: CardRecordVerifier(trustedKeys: TrustedKeys([key])), policy: CheckPolicy(), today: SystemClock().today(), taps: taps)
        }
    }
}
