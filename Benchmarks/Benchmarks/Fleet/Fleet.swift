import Benchmark
import BenchmarkSupport

/// A fleet of simulated kiosks against one central: feed polls, request bursts, a few bootstraps.
let benchmarks: @Sendable () -> Void = {
    Benchmark("Fleet: BENCH_KIOSKS kiosks against one central", configuration: .once(reporting: FleetBenchmark.figures)) { benchmark in
        try await runOnce(benchmark, figures: FleetBenchmark.figures) { try await FleetBenchmark.run() }
    }
}
