import CardModel
import CardCheck
import Foundation
import KioskTestSupport
import Hummingbird
import KioskAPI
import KioskCore
import Logging
import Outbox
import RegistryCSV
import Replica
import Testing

/// The local API served in-process on a real socket, with a fixed clock.
struct APIServer {
    let checkpoint: Checkpoint
    let base: String
    var port: Int { Int(base.split(separator: ":").last ?? "") ?? 0 }

    /// Runs `body` against a live server on a free port, then stops it.
    static func with(
        csv: String = registryCSV(), clock: any KioskClock = SystemClock(), retention: Checkpoint.Retention = .init(),
        outbox: Outbox? = nil, entryGuardPath: String? = nil, accessToken: String? = nil, catalog: ServiceCatalog = ServiceCatalog(),
        holders: (any HolderRequestsSource)? = nil, callbackGuard: CallbackGuard = CallbackGuard(path: nil),
        _ body: (APIServer) async throws -> Void
    ) async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        _ = try replica.importRegistry(try RegistryCSV.parse(Array(csv.utf8)).rows)
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let checkpoint = Checkpoint(replica: replica, clock: clock, retention: retention, logger: logger)
        let api = KioskAPI(
            checkpoint: checkpoint, status: StandaloneStatus(), kioskName: "test", heartbeat: .milliseconds(200), outbox: outbox,
            catalog: catalog, holders: holders, entryGuard: NumberEntryGuard(path: entryGuardPath), callbackGuard: callbackGuard,
            accessToken: accessToken
        )
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: api.router(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let server = Task { try await app.run() }
        defer { server.cancel() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        try await body(APIServer(checkpoint: checkpoint, base: "http://127.0.0.1:\(port)"))
        checkpoint.events.close()
    }
}

@Suite("Local API")
struct KioskAPITests {
    @Test("malformed JSON, a missing field and a bad number get 400 with a message; nothing is recorded")
    func badRequests() async throws {
        try await APIServer.with { server in
            for (body, code) in [("{\"numb", "malformed_json"), ("{}", "malformed_json"), ("{\"number\":5}", "malformed_json"), ("{\"number\":\"12$4\"}", "invalid_number")] {
                let r = try await http("POST", server.base + "/api/v1/check", body: body)
                #expect(r.status == 400, "\(body)")
                let error = try #require(r.json?["error"] as? [String: Any])
                #expect(error["code"] as? String == code, "\(body)")
                #expect((error["message"] as? String)?.isEmpty == false)
            }
            let taps = try await http("GET", server.base + "/api/v1/taps")
            #expect((taps.json?["taps"] as? [Any])?.count == 0)
            #expect(try await http("GET", server.base + "/api/v1/taps?limit=0").status == 400)
            #expect(try await http("GET", server.base + "/api/v1/taps?limit=abc").status == 400)
        }
    }

    @Test("recent taps: newest first, bounded by count, without names or session handles")
    func recentTaps() async throws {
        try await APIServer.with(retention: .init(maxCount: 3)) { server in
            for n in ["SKS-0001", "KDR-1001", "SKS-0007", "CUS-0001"] {
                _ = try await http("POST", server.base + "/api/v1/check", body: "{\"number\":\"\(n)\"}")
            }
            let taps = try #require(try await http("GET", server.base + "/api/v1/taps?limit=10").json?["taps"] as? [[String: Any]])
            #expect(taps.count == 3)
            #expect(taps.map { ($0["card"] as? [String: Any])?["masked"] as? String } == ["…0001", "…0007", "…1001"])
            #expect(taps.allSatisfy { $0["holder"] == nil && $0["session"] == nil })
            let one = try #require(try await http("GET", server.base + "/api/v1/taps?limit=1").json?["taps"] as? [[String: Any]])
            #expect(one.count == 1)
        }
    }

    @Test("recent taps are forgotten after the retention time")
    func tapsExpire() async throws {
        let clock = MovableClock(Date())
        try await APIServer.with(clock: clock, retention: .init(maxAge: .seconds(3600))) { server in
            _ = await server.checkpoint.check(.typed(try CardNumber(normalising: "SKS-0001")), source: .check)
            clock.advance(by: 3599)
            #expect(await server.checkpoint.recentTaps(limit: 10).count == 1)
            clock.advance(by: 2)
            #expect(await server.checkpoint.recentTaps(limit: 10).isEmpty)
        }
    }

    @Test("a valid verdict opens a session that the next tap ends")
    func sessions() async throws {
        try await APIServer.with { server in
            let valid = try #require(try await http("POST", server.base + "/api/v1/check", body: "{\"number\":\"SKS-0001\"}").json)
            let id = try #require(valid["session"] as? String)
            #expect(id.count >= 16)
            let open = await server.checkpoint.session(id: id)
            #expect(open?.cardNumber.value == "SKS0001")
            let refused = try #require(try await http("POST", server.base + "/api/v1/check", body: "{\"number\":\"SKS-0007\"}").json)
            #expect(refused["session"] == nil)
            #expect(await server.checkpoint.session(id: id) == nil)
        }
    }

    @Test("every check is an event on the SSE stream, with the documented shape")
    func events() async throws {
        try await APIServer.with { server in
            let port = Int(server.base.split(separator: ":").last ?? "") ?? 0
            let sse = try SSEReader(port: port, path: "/api/v1/events")
            _ = try await sse.read(until: ": connected")
            _ = try await http("POST", server.base + "/api/v1/check", body: "{\"number\":\"KDR-1005\"}")
            let text = try await sse.read(until: "event: check")
            #expect(text.contains("text/event-stream"))
            let event = try #require(sse.lastEvent())
            #expect(event["type"] as? String == "check")
            #expect(event["verdict"] as? String == "valid")
            #expect((event["card"] as? [String: Any])?["masked"] as? String == "…1005")
            #expect(event["at"] as? String != nil)
            #expect((event["reason"] as? [String: Any])?["pl"] as? String != nil)
            #expect((event["entitlements"] as? [[String: Any]])?.first?["kind"] as? String == "disability")
            // A typed number never names its holder, and is marked as such.
            #expect(event["holder"] == nil)
            #expect(event["identity"] as? String == "unverified")
            #expect(event["session"] as? String != nil)
            _ = try await sse.read(until: ": keep-alive")
        }
    }
}
