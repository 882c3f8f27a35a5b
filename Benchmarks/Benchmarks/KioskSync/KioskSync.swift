import Benchmark
import BenchmarkSupport

/// The kiosk's sync against a real cus-central: bootstrap (beside Python's sqlite3), delta, outbox.
let benchmarks: @Sendable () -> Void = {
    Benchmark("Sync: bootstrap, delta and outbox at BENCH_CARDS cards", configuration: .once(reporting: SyncBenchmark.figures)) { benchmark in
        try await runOnce(benchmark, figures: SyncBenchmark.figures) { try await SyncBenchmark.run() }
    }
}
