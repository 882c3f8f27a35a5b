import Benchmark
import BenchmarkSupport

/// `cus-central registry import` beside Python's sqlite3 writing the same rows.
let benchmarks: @Sendable () -> Void = {
    Benchmark("Registry import of BENCH_ROWS rows vs Python sqlite3", configuration: .once(reporting: RegistryImportBenchmark.figures)) { benchmark in
        try await runOnce(benchmark, figures: RegistryImportBenchmark.figures) { try await RegistryImportBenchmark.run() }
    }
}
