import Benchmark
import BenchmarkSupport

/// Tap → verdict on the emulated reader, beside a minimal libnfc client reading the same card.
let benchmarks: @Sendable () -> Void = {
    Benchmark("Tap → verdict vs a minimal libnfc client (BENCH_TAPS taps)", configuration: .once(reporting: TapBenchmark.figures)) { benchmark in
        try await runOnce(benchmark, figures: TapBenchmark.figures) { try await TapBenchmark.run() }
    }
}
