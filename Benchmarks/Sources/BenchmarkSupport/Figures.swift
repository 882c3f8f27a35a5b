import Benchmark
import Foundation
import Synchronization

/// A figure a benchmark reports once per run (a time, a rate, a ratio, a size), as opposed to the
/// latency samples package-benchmark takes itself.
///
/// package-benchmark keeps custom metrics as integers, so each figure is stored in a unit fine enough
/// for its range: seconds as milliseconds, ratios as percent, MiB as KiB; the unit is in the metric's name.
public struct Figure: Sendable, Hashable {
    /// The figure's name, as printed (`bootstrap_swift_time`).
    public let name: String
    /// The unit it is measured in (`s`, `ms`, `us`, `MiB`, `x`, or a count such as `cards/s`).
    public let unit: String
    /// Whether a larger value is the better one (rates, ratios against a baseline).
    public let largerIsBetter: Bool

    public init(_ name: String, _ unit: String, largerIsBetter: Bool = false) {
        self.name = name
        self.unit = unit
        self.largerIsBetter = largerIsBetter
    }

    /// The unit the figure is stored in, and the factor from `unit` to it.
    var stored: (unit: String, factor: Double) {
        switch unit {
        case "s": ("ms", 1000)
        case "x": ("%", 100)
        case "MiB": ("KiB", 1024)
        default: (unit, 1)
        }
    }

    /// The package-benchmark metric the figure is recorded as.
    public var metric: BenchmarkMetric {
        .custom("\(name) (\(stored.unit))", polarity: largerIsBetter ? .prefersLarger : .prefersSmaller, useScalingFactor: false)
    }
}

/// The figures emitted while a benchmark runs, handed to package-benchmark when its iteration ends.
public final class FigureRecorder: Sendable {
    let figures: [String: Figure]
    let measured = Mutex<[(Figure, Int)]>([])

    init(figures: [Figure]) {
        self.figures = Dictionary(figures.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The recorder of the benchmark running in this task, if any.
    @TaskLocal public static var current: FigureRecorder?

    func record(_ name: String, _ value: Double, _ unit: String) {
        guard let figure = figures[name], figure.unit == unit else {
            FileHandle.standardError.write(Data("benchmark: \(name) (\(unit)) is not among the figures this benchmark declares\n".utf8))
            return
        }
        guard value.isFinite else { return }
        measured.withLock { $0.append((figure, Int((value * figure.stored.factor).rounded()))) }
    }
}

/// Prints a figure on standard error as it is measured (a long run shows its progress) and records it
/// in the running benchmark.
public func emit(_ name: String, _ value: Double, _ unit: String) {
    let rounded = (value * 1000).rounded() / 1000
    FileHandle.standardError.write(Data("{\"metric\":\"\(name)\",\"value\":\(rounded),\"unit\":\"\(unit)\"}\n".utf8))
    FigureRecorder.current?.record(name, value, unit)
}

public extension Benchmark.Configuration {
    /// A benchmark that runs once and reports `figures` (an end-to-end run of minutes, not a loop of microseconds).
    static func once(reporting figures: [Figure], maxDuration: Duration = .seconds(3600)) -> Benchmark.Configuration {
        .init(metrics: figures.map(\.metric), warmupIterations: 0, maxDuration: maxDuration, maxIterations: 1)
    }
}

/// Runs `body` once as the benchmark's only iteration and records the figures it emitted, also those
/// measured before it failed.
public func runOnce(_ benchmark: Benchmark, figures: [Figure], _ body: () async throws -> Void) async throws {
    let recorder = FigureRecorder(figures: figures)
    defer {
        for (figure, value) in recorder.measured.withLock({ $0 }) { benchmark.measurement(figure.metric, value) }
    }
    try await FigureRecorder.$current.withValue(recorder) { try await body() }
}

/// A benchmark that could not go on, and why.
public struct BenchmarkError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A setting from the environment (`BENCH_CARDS=…`), or `fallback`.
public func setting(_ name: String, _ fallback: Int) -> Int {
    Int(ProcessInfo.processInfo.environment[name] ?? "") ?? fallback
}

/// Where the project's release binaries are: `BENCH_BIN`, else the root package's `.build/release`.
public func binaryDirectory(filePath: String = #filePath) -> String {
    if let bin = ProcessInfo.processInfo.environment["BENCH_BIN"], !bin.isEmpty { return bin }
    // Benchmarks/Sources/BenchmarkSupport/Figures.swift → the repository root.
    var root = URL(fileURLWithPath: filePath)
    for _ in 0..<4 { root.deleteLastPathComponent() }
    return root.appendingPathComponent(".build/release").path
}

/// The binaries a benchmark runs, checked before it starts.
public func requireBinaries(_ names: [String]) throws -> String {
    let bin = binaryDirectory()
    for name in names where !FileManager.default.isExecutableFile(atPath: bin + "/" + name) {
        throw BenchmarkError("\(bin)/\(name) not found: build it in the repository's root (swift build -c release --product \(name)) or set BENCH_BIN")
    }
    return bin
}

/// What a program printed, and how it ended.
public struct Finished: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// Standard output without its surrounding white space (a token, a number).
    public var output: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// Runs `program` with `arguments` to its end; `started` is told its process as soon as it runs.
public func runProgram(
    _ program: String, _ arguments: [String], environment: [String: String] = [:], started: (Process) -> Void = { _ in }
) throws -> Finished {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program)
    p.arguments = arguments
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    started(p)
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Finished(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Runs `program` and returns its output; a failure is a ``BenchmarkError`` with the end of what it printed.
@discardableResult
public func runChecked(_ program: String, _ arguments: [String]) throws -> String {
    let r = try runProgram(program, arguments)
    guard r.status == 0 else {
        let name = ([URL(fileURLWithPath: program).lastPathComponent] + arguments.prefix(2)).joined(separator: " ")
        throw BenchmarkError("\(name) failed: \(r.stderr.suffix(800))")
    }
    return r.output
}

/// Starts `cus-central serve` on `database` on a free loopback port and waits until it listens.
///
/// - Returns: the process (stop it with `terminate()`) and the central's base URL.
public func serveCentral(
    bin: String, database: String, addressFile: String, within limit: Duration, started: (Process) -> Void = { _ in }
) async throws -> (process: Process, url: String) {
    try? FileManager.default.removeItem(atPath: addressFile)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: bin + "/cus-central")
    p.arguments = ["serve", "--database", database, "--listen", "127.0.0.1:0", "--address-file", addressFile]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    started(p)
    let start = ContinuousClock.now
    while true {
        let address = (try? String(contentsOfFile: addressFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if !address.isEmpty { return (p, "http://" + address) }
        guard p.isRunning, ContinuousClock.now - start < limit else { throw BenchmarkError("cus-central did not start") }
        try await Task.sleep(for: .milliseconds(50))
    }
}
