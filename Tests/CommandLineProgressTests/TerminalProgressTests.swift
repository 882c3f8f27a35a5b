import CommandLineProgress
import Synchronization
import Testing

/// The progress display's text and its rate, with the clock given by the test.
@Suite("Terminal progress")
struct TerminalProgressTests {
    /// Collects what a display writes.
    final class Output: Sendable {
        let parts = Mutex<[String]>([])
        var all: [String] { parts.withLock { $0 } }
        func write(_ text: String) { parts.withLock { $0.append(text) } }
    }

    @Test func theBarShowsPercentCountAndTimeLeft() {
        #expect(
            TerminalProgress.bar(done: 450_000, total: 1_000_000, unit: "cards", elapsed: .seconds(9), width: 10)
                == "[####      ] 45 %  450000/1000000 cards  ETA 11 s"
        )
        // No rate yet: no time left.
        #expect(TerminalProgress.bar(done: 0, total: 50, unit: "cards", elapsed: .seconds(3), width: 4) == "[    ] 0 %  0/50 cards")
        #expect(TerminalProgress.bar(done: 50, total: 50, unit: "cards", elapsed: .seconds(3), width: 4) == "[####] 100 %  50/50 cards  ETA 0 s")
        #expect(TerminalProgress.bar(done: 1, total: 100, unit: "cards", elapsed: .seconds(2), width: 4).hasSuffix("ETA 3 min 18 s"))
        // Nothing to do is done.
        #expect(TerminalProgress.percent(0, 0) == 100)
    }

    @Test func aPlainLineSaysHowFar() {
        #expect(TerminalProgress.line(label: "import", done: 450_000, total: 1_000_000, unit: "cards") == "import: 450000/1000000 cards (45 %)")
        // Without a unit, the percentage alone.
        #expect(TerminalProgress.line(label: "read", done: 45, total: 100, unit: nil) == "read: 45 %")
        #expect(TerminalProgress.bar(done: 1, total: 4, unit: nil, elapsed: .seconds(1), width: 4) == "[#   ] 25 %  ETA 3 s")
    }

    @Test func theBarIsRedrawnInPlaceAtMostTenTimesASecond() {
        let out = Output()
        let start = ContinuousClock.now
        let progress = TerminalProgress(label: "import", unit: "cards", style: .bar, start: start, write: out.write)
        // 1,000 updates over one second: one every millisecond.
        for i in 1...1000 { progress.update(i, of: 1000, at: start + .milliseconds(i)) }
        progress.finish(at: start + .milliseconds(1001))
        let draws = out.all
        #expect(draws.count >= 10 && draws.count <= 12, "\(draws.count) draws")
        #expect(draws.allSatisfy { $0.hasPrefix("\r[") && !$0.dropLast().contains("\n") })
        #expect(draws.dropLast().allSatisfy { !$0.hasSuffix("\n") })
        // The last draw is the whole count, and ends the line.
        #expect(draws.last?.contains("100 %  1000/1000 cards") == true)
        #expect(draws.last?.hasSuffix("\n") == true)
    }

    @Test func plainLinesComeAtEveryTenthAndEveryFiveSeconds() {
        let out = Output()
        let start = ContinuousClock.now
        let progress = TerminalProgress(label: "import", unit: "cards", style: .lines, start: start, write: out.write)
        // Fast work: 10,000 updates in 10 ms give one line per tenth.
        for i in 0...10_000 { progress.update(i, of: 10_000, at: start + .microseconds(i)) }
        progress.finish(at: start + .milliseconds(11))
        #expect(out.all == (0...10).map { "import: \($0 * 1000)/10000 cards (\($0 * 10) %)\n" })

        // Slow work: 1 card a second of 1,000 gives a line every 5 s even within a tenth.
        let slow = Output()
        let crawl = TerminalProgress(label: "import", unit: "cards", style: .lines, start: start, write: slow.write)
        for i in 0...20 { crawl.update(i, of: 1000, at: start + .seconds(i)) }
        crawl.finish(at: start + .seconds(21))
        #expect(slow.all == ["import: 0/1000 cards (0 %)\n", "import: 5/1000 cards (0 %)\n", "import: 10/1000 cards (1 %)\n",
                             "import: 15/1000 cards (1 %)\n", "import: 20/1000 cards (2 %)\n"])
    }
}
