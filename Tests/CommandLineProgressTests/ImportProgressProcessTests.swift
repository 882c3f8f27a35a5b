import Foundation
import KioskTestSupport
import Testing

/// `kioskctl replica import` and `cus-central registry import`, run as real processes with stderr a pipe:
/// plain progress lines on stderr, the result alone on stdout.
@Suite("Import progress on the command line", .spawnsProcesses)
struct ImportProgressProcessTests {
    static let cards = 3000

    /// `cards` printed senior cards, one row each.
    static func registry(_ dir: TempDir) throws -> String {
        var lines = ["card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status"]
        for i in 0..<cards { lines.append("PRG-\(String(format: "%05d", i));;senior60;;Jan;Nowak;2022-01-01;;active") }
        return try dir.write("registry.csv", lines.joined(separator: "\n") + "\n")
    }

    /// The progress lines in `stderr`, checked for form: reading the file (percentages), then writing (counts).
    static func progress(_ stderr: String) throws -> (reading: [Int], writing: [(done: Int, percent: Int)]) {
        #expect(!stderr.contains("\r"), "no bar redraws when stderr is not a terminal")
        var reading: [Int] = []
        var counts: [(Int, Int)] = []
        for line in stderr.split(separator: "\n") {
            if let match = line.wholeMatch(of: /read: (\d+) %/) {
                #expect(counts.isEmpty, "the file is read before anything is written")
                reading.append(Int(match.1) ?? -1)
                continue
            }
            let match = try #require(line.wholeMatch(of: /import: (\d+)\/(\d+) cards \((\d+) %\)/), "unexpected stderr line: \(line)")
            #expect(Int(match.2) == cards)
            counts.append((Int(match.1) ?? -1, Int(match.3) ?? -1))
        }
        return (reading, counts)
    }

    static func checkProgress(_ stderr: String) throws {
        let (reading, counts) = try progress(stderr)
        #expect(reading.last == 100 && reading == reading.sorted(), "\(reading)")
        // A line at every tenth (0 % to 100 %), never more than one per tenth plus the 5-second ones.
        #expect(counts.first?.done == 0)
        #expect(counts.last?.done == cards && counts.last?.percent == 100)
        #expect(Set(counts.map { $0.percent / 10 }) == Set(0...10))
        #expect(zip(counts, counts.dropFirst()).allSatisfy { $0.done < $1.done }, "counts only grow")
        #expect(counts.allSatisfy { $0.percent == $0.done * 100 / cards })
    }

    @Test func kioskctlReplicaImportShowsProgressLinesOnStderr() async throws {
        let dir = TempDir(prefix: "progress-kioskctl")
        let csv = try Self.registry(dir)
        let state = dir.file("state")
        let r = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "imported \(Self.cards) card(s) with \(Self.cards) entitlement(s) into \(state)/replica.sqlite; 0 row(s) refused\n")
        try Self.checkProgress(r.stderr)
    }

    @Test func cusCentralRegistryImportShowsProgressLinesOnStderr() async throws {
        let dir = TempDir(prefix: "progress-central")
        let csv = try Self.registry(dir)
        let r = try await run(binary("cus-central"), ["registry", "import", csv, "--database", "sqlite:" + dir.file("central.db")])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.wholeMatch(of: /imported 3000 card numbers, \d+ feed changes, 0 rows refused\n/) != nil, "\(r.stdout)")
        try Self.checkProgress(r.stderr)
    }
}
