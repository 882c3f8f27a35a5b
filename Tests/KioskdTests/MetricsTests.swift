import Foundation
import KioskTestSupport
import PN532Emulator
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `GET /metrics` on a running `kioskd`: the figures move with what really happened (a tap through
/// the real libnfc, a typed number, a queued request, a failing central), in Prometheus text format.
@Suite("kioskd metrics (Prometheus text at /metrics)", .serialized, .spawnsProcesses)
struct MetricsTests {
    /// The value of one sample line, e.g. `kiosk_checks_total{source="tap",verdict="valid"}`.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    static func metrics(_ addr: String) async throws -> (text: String, contentType: String?) {
        let result = try await http("GET", "http://\(addr)/metrics")
        #expect(result.status == 200)
        return (String(decoding: result.body, as: UTF8.self), result.header("Content-Type"))
    }

    @Test("a tap, a typed number, a request and a failing central show in /metrics; no number or UID does")
    func figuresFollowEvents() async throws {
        let dir = TempDir()
        let state = dir.file("state")
        let csv = try dir.write("registry.csv", registryCSV())
        let imported = try await run(binary("kioskctl"), ["replica", "import", csv], environment: ["KIOSK_STATE_DIR": state])
        #expect(imported.status == 0, "\(imported.stderr)")
        let emulator = try PN532Emulator(linkPath: dir.file("pn532"))
        emulator.start()
        defer { emulator.stop() }
        // A port bound but never listening: every sync is refused, as `unreachable`.
        let closed = try boundLoopbackSocket()
        defer { close(closed.fd) }
        let closedPort = closed.port

        let kioskd = try KioskdProcess(state: state, environment: [
            "KIOSK_NFC_DEVICE": emulator.connstring, "LIBNFC_LOG_LEVEL": "0",
            "KIOSK_CENTRAL_URL": "http://127.0.0.1:\(closedPort)", "KIOSK_CENTRAL_TOKEN": "kiosk-token-for-tests",
        ])
        let addr = try await kioskd.waitUntilListening()

        // Before anything happened: the series exist at zero, so an alert can be written against them.
        var (text, contentType) = try await Self.metrics(addr)
        #expect(contentType?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(Self.sample(text, #"kiosk_checks_total{source="typed",verdict="valid"}"#) == 0)
        #expect(Self.sample(text, #"kiosk_outbox_depth{state="pending"}"#) == 0)
        #expect(text.contains("# TYPE kiosk_tap_to_verdict_seconds histogram"))

        // The reader comes up: its state gauge says so.
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            text = try await Self.metrics(addr).text
            if Self.sample(text, #"kiosk_reader_state{state="ready"}"#) == 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Self.sample(text, #"kiosk_reader_state{state="ready"}"#) == 1)
        #expect(Self.sample(text, #"kiosk_reader_state{state="absent"}"#) == 0)

        // A tap: an unsigned chip whose UID the registry knows.
        try emulator.place(EmulatedCard(kind: .ntag215, uid: "04:A1:10:22:33:44:80"))
        var tapped = 0.0
        while ContinuousClock.now < deadline + .seconds(10) {
            text = try await Self.metrics(addr).text
            tapped = Self.sample(text, "kiosk_tap_to_verdict_seconds_count") ?? 0
            if tapped >= 1 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(tapped == 1)
        let tapChecks = text.split(separator: "\n").filter { $0.hasPrefix(#"kiosk_checks_total{source="tap""#) }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        #expect(tapChecks == 1)
        emulator.removeCard()

        // A typed number, then a request in its session.
        let check = try await http("POST", "http://\(addr)/api/v1/check", body: #"{"number":"SKS-0001"}"#, headers: ["Content-Type": "application/json"])
        let session = try #require(check.json?["session"] as? String)
        let request = try await http(
            "POST", "http://\(addr)/api/v1/requests", body: #"{"session":"\#(session)","service":"psychologist"}"#,
            headers: ["Content-Type": "application/json"]
        )
        #expect(request.status == 201)
        _ = try await http("POST", "http://\(addr)/api/v1/sync")

        text = try await Self.metrics(addr).text
        #expect(Self.sample(text, #"kiosk_checks_total{source="typed",verdict="valid"}"#) == 1)
        #expect(Self.sample(text, #"kiosk_outbox_depth{state="pending"}"#) == 1)
        #expect((Self.sample(text, "kiosk_outbox_oldest_age_seconds") ?? -1) >= 0)
        #expect((Self.sample(text, #"kiosk_sync_errors_total{kind="unreachable"}"#) ?? 0) >= 1)
        #expect(Self.sample(text, "kiosk_replica_cards") ?? 0 > 0)
        #expect((Self.sample(text, "kiosk_replica_age_seconds") ?? -1) >= 0)
        // Nothing personal: no card number, no UID, no name.
        for secret in ["SKS-0001", "0001", "04:A1", "04A1", "Halina", "Wójcik"] {
            #expect(!text.contains(secret), "metrics contain \(secret)")
        }
        #expect(try await kioskd.terminate() == 0)
    }
}
