import CardCheck
import CardModel
import Foundation
import KioskAPI
import KioskCore
import KioskTestSupport
import Logging
import Outbox
import RegistryCSV
import Replica
import Testing

/// The local API's promises to residents: a typed number names nobody, a finished session is over
/// everywhere, number entry cannot be used to walk the registry, and the API answers only its screen.
@Suite("Trust: sessions, typed numbers and the local API")
struct TrustTests {
    @Test("a typed number gets the verdict and card kind, never the name; its session and requests are unverified")
    func typedNumberIsUnverified() async throws {
        let dir = TempDir()
        let outbox = try Outbox(path: dir.file("outbox.sqlite"))
        try await APIServer.with(outbox: outbox) { server in
            let event = try #require(try await http("POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0001"}"#).json)
            #expect(event["verdict"] as? String == "valid")
            #expect(event["holder"] == nil)
            #expect(event["identity"] as? String == "unverified")
            #expect((event["entitlements"] as? [[String: Any]])?.first?["kind"] as? String == "senior60")
            #expect(!String(decoding: try JSONSerialization.data(withJSONObject: event), as: UTF8.self).contains("Halina"))
            let session = try #require(event["session"] as? String)
            #expect(await server.checkpoint.session(id: session)?.identity == .unverified)

            let made = try await http("POST", server.base + "/api/v1/requests", body: #"{"session":"\#(session)","service":"psychologist"}"#)
            #expect(made.status == 201)
            let key = try #require((made.json?["request"] as? [String: Any])?["id"] as? String)
            #expect(try outbox.item(key: key)?.identity == .unverified)
        }
    }

    @Test("five refused numbers in a row pause number entry with 429 and Retry-After; the pause survives a restart")
    func numberEntryPause() async throws {
        let dir = TempDir()
        let guardFile = dir.file("number-entry.json")
        try await APIServer.with(entryGuardPath: guardFile) { server in
            // A valid number in between starts the count again.
            for n in ["ZZZ-0001", "ZZZ-0002", "SKS-0001", "ZZZ-0003", "ZZZ-0004", "SKS-0007", "ZZZ-0005"] {
                #expect(try await http("POST", server.base + "/api/v1/check", body: #"{"number":"\#(n)"}"#).status == 200, "\(n)")
            }
            let fifth = try await http("POST", server.base + "/api/v1/check", body: #"{"number":"ZZZ-0006"}"#)
            #expect(fifth.status == 200)
            let paused = try await http("POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0001"}"#)
            #expect(paused.status == 429)
            let wait = Int(paused.header("Retry-After") ?? "") ?? 0
            #expect((55...60).contains(wait))
            let error = try #require(paused.json?["error"] as? [String: Any])
            #expect(error["code"] as? String == "too_many_attempts")
            #expect(error["retry_after"] as? Int == wait)
            // The paused attempt was not looked up.
            let taps = try await http("GET", server.base + "/api/v1/taps").json?["taps"] as? [Any]
            #expect(taps?.count == 8)
        }
        #expect(StateFilesMode.of(guardFile) == 0o600)
        try await APIServer.with(entryGuardPath: guardFile) { server in
            let again = try await http("POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0001"}"#)
            #expect(again.status == 429)
        }
    }

    @Test("Gotowe ends the session on the server and tells every screen")
    func doneEndsSession() async throws {
        try await APIServer.with { server in
            let sse = try SSEReader(port: server.port, path: "/api/v1/events")
            _ = try await sse.read(until: ": connected")
            let event = try #require(try await http("POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0001"}"#).json)
            let session = try #require(event["session"] as? String)
            let ended = try await http("DELETE", server.base + "/api/v1/sessions/\(session)")
            #expect(ended.status == 204)
            #expect(await server.checkpoint.session(id: session) == nil)
            _ = try await sse.read(until: "event: session_end")
            let end = try #require(sse.lastEvent())
            #expect(end["session"] as? String == session)
            #expect(end["reason"] as? String == "done")
            let late = try await http("POST", server.base + "/api/v1/requests", body: #"{"session":"\#(session)","service":"psychologist"}"#)
            #expect(late.status == 410)
            // Ending it again, or an unknown session, changes nothing and says nothing.
            #expect(try await http("DELETE", server.base + "/api/v1/sessions/\(session)").status == 204)
        }
    }

    @Test("a session ends by itself when its time is up, and the screen is told")
    func sessionTimesOut() async throws {
        try await APIServer.with(retention: .init(sessionLifetime: .seconds(1))) { server in
            let sse = try SSEReader(port: server.port, path: "/api/v1/events")
            _ = try await sse.read(until: ": connected")
            let event = try #require(try await http("POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0001"}"#).json)
            let session = try #require(event["session"] as? String)
            _ = try await sse.read(until: "event: session_end", timeout: .seconds(5))
            #expect(sse.lastEvent()?["reason"] as? String == "timeout")
            #expect(sse.lastEvent()?["session"] as? String == session)
        }
    }

    @Test("a screen that stops reading loses old events instead of growing the kiosk's memory")
    func eventStreamIsBounded() async throws {
        try await APIServer.with { server in
            let sse = try SSEReader(port: server.port, path: "/api/v1/events", receiveBuffer: 4096)
            _ = try await sse.read(until: ": connected")
            let published = 30_000
            let number = try CardNumber(normalising: "SKS-0001")
            for i in 0..<published {
                await server.checkpoint.check(.typed(number), source: .check)
                // Leave the cooperative threads to the other suites' servers now and then (2 cores).
                if i % 250 == 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            // Every event, ~600 bytes, would be ~18 MB held for a screen that reads nothing.
            let delivered = await sse.drain(counting: "event: check")
            #expect(delivered > 0)
            #expect(delivered < published / 2, "\(delivered) of \(published) events were held for a screen that did not read")
        }
    }

    @Test("a POST that is not JSON, or a change from another origin, is refused and changes nothing (no cross-site form posts)")
    func postsNeedJSON() async throws {
        try await APIServer.with { server in
            for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
                let r = try await http("POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0001"}"#, headers: ["Content-Type": type])
                #expect(r.status == 415, "\(type)")
                #expect((r.json?["error"] as? [String: Any])?["code"] as? String == "json_required")
            }
            let taps = try await http("GET", server.base + "/api/v1/taps").json?["taps"] as? [Any]
            #expect(taps?.isEmpty == true)
            // A page of another origin may not change anything, even with the right type.
            let foreign = try await http("POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0001"}"#, headers: ["Origin": "http://evil.example"])
            #expect(foreign.status == 403)
            #expect(try await http("DELETE", server.base + "/api/v1/sessions/x", headers: ["Origin": "http://evil.example"]).status == 403)
            let ok = try await http(
                "POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0001"}"#,
                headers: ["Content-Type": "application/json; charset=utf-8", "Origin": server.base]
            )
            #expect(ok.status == 200)
            // A POST without a body needs no type (POST /api/v1/sync; this kiosk has no central).
            #expect(try await http("POST", server.base + "/api/v1/sync").status == 409)
        }
    }

    @Test("every answer carries the Content-Security-Policy and anti-framing headers")
    func securityHeaders() async throws {
        try await APIServer.with { server in
            for path in ["/api/v1/status", "/api/v1/nothing-here"] {
                let r = try await http("GET", server.base + path)
                #expect(r.header("Content-Security-Policy")?.contains("script-src 'self'") == true, "\(path)")
                #expect(r.header("Content-Security-Policy")?.contains("frame-ancestors 'none'") == true, "\(path)")
                #expect(r.header("X-Frame-Options") == "DENY", "\(path)")
            }
        }
    }

    @Test("with an access token, every route wants it, as a bearer token or a browser's Basic credentials")
    func accessToken() async throws {
        let token = "s3cret-token-of-24-chars"
        try await APIServer.with(accessToken: token) { server in
            let denied = try await rawHTTP("GET", port: server.port, path: "/api/v1/status")
            #expect(denied.status == 401)
            #expect(denied.headers["www-authenticate"]?.hasPrefix("Basic") == true)
            #expect(try await rawHTTP("POST", port: server.port, path: "/api/v1/check", headers: ["Content-Type": "application/json"]).status == 401)
            #expect(try await rawHTTP("GET", port: server.port, path: "/api/v1/events", headers: ["Authorization": "Bearer wrong"]).status == 401)
            #expect(try await rawHTTP("GET", port: server.port, path: "/", headers: ["Authorization": "Basic \(Data("kiosk:wrong".utf8).base64EncodedString())"]).status == 401)
            #expect(try await http("GET", server.base + "/api/v1/status", headers: ["Authorization": "Bearer \(token)"]).status == 200)
            let basic = Data("kiosk:\(token)".utf8).base64EncodedString()
            #expect(try await http("GET", server.base + "/api/v1/status", headers: ["Authorization": "Basic \(basic)"]).status == 200)
            let taps = try await http("GET", server.base + "/api/v1/taps", headers: ["Authorization": "Bearer \(token)"]).json?["taps"] as? [Any]
            #expect(taps?.isEmpty == true)
        }
    }

    @Test("a clock behind the replica's last refresh is reported, and dates are judged from that day instead")
    func clockBehind() async throws {
        // The registry was imported now; the kiosk's clock says ten days ago (a Pi without a real-time clock).
        let csv = """
            card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status
            SKS-0101;;senior60;;Ewa;Nowak;\(warsawDay(-3));;active
            """
        let clock = MovableClock(Date().addingTimeInterval(-10 * 86_400))
        try await APIServer.with(csv: csv, clock: clock) { server in
            let event = try #require(try await http("POST", server.base + "/api/v1/check", body: #"{"number":"SKS-0101"}"#).json)
            #expect(event["verdict"] as? String == "valid")
            let status = try #require(try await http("GET", server.base + "/api/v1/status").json)
            let info = try #require(status["clock"] as? [String: Any])
            #expect(info["ok"] as? Bool == false)
            #expect(info["problem"] as? String == "behind_last_sync")
            clock.advance(by: 10 * 86_400)
            let fine = try #require(try await http("GET", server.base + "/api/v1/status").json?["clock"] as? [String: Any])
            #expect(fine["ok"] as? Bool == true)
        }
    }
}

/// The permission bits of a file, for tests of modes.
enum StateFilesMode {
    static func of(_ path: String) -> Int? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        return (attributes[.posixPermissions] as? NSNumber)?.intValue
    }
}

/// A signature vouches only for a number the replica does not know: a chip the central replaced,
/// re-issued or dropped is refused, whichever way the change arrived.
@Suite("Trust: withdrawn chips are never valid")
struct WithdrawnChipTests {
    static let number = "SKS-0501"
    static let oldChip = "04A1102233440B"
    static let newChip = "04A1102233440C"

    /// A replica holding SKS-0501 on `oldChip`, as the central's feed delivers it.
    static func replica(_ dir: TempDir) async throws -> Replica {
        let replica = try Replica(path: dir.file("replica.sqlite"))
        try await replica.applyChanges([.upsert(try card(uid: oldChip))], cursor: 1)
        return replica
    }

    static func card(uid: String?, status: CardStatus = .active, replacedBy: String? = nil) throws -> SyncedCard {
        SyncedCard(
            number: try CardNumber(normalising: number), uid: try uid.map { try ChipUID(hex: $0) },
            technology: uid == nil ? .printed : .ntag213, series: nil, status: status, validFrom: nil, validUntil: nil,
            replacedByUID: try replacedBy.map { try ChipUID(hex: $0) }, holderDisplayName: "Ewa N.", personRef: "p-501",
            entitlements: [Entitlement(kind: .senior60, validFrom: try CivilDate(iso: "2020-01-01"), validUntil: nil)]
        )
    }

    /// The old chip tapped, carrying the record the CUS once signed for it.
    static func tapOldChip(_ replica: Replica) async throws -> CheckEvent {
        let signed = VerifiedCardRecord(number: try CardNumber(normalising: number), entitlements: [.senior60], role: nil, validUntil: nil, keyID: 1)
        let checkpoint = Checkpoint(replica: replica, logger: .init(label: "test"))
        return await checkpoint.check(.chip(uid: try ChipUID(hex: oldChip), technology: .ntag213, record: signed), source: .tap)
    }

    @Test("before any change, the old chip is valid (the baseline the other tests move from)")
    func baseline() async throws {
        let dir = TempDir()
        #expect(try await Self.tapOldChip(try await Self.replica(dir)).verdict == .valid)
    }

    @Test("the central gives the number a new chip in place (PUT of the card with a new UID)")
    func uidChangedInPlace() async throws {
        let dir = TempDir()
        let replica = try await Self.replica(dir)
        try await replica.applyChanges([.upsert(try Self.card(uid: Self.newChip))], cursor: 2)
        let event = try await Self.tapOldChip(replica)
        #expect(event.verdict == .revoked)
        #expect(event.reasonCode == "replaced")
        #expect(event.reason.pl.contains("okienka"))
        #expect(event.session == nil && event.holder == nil)
    }

    @Test("the central replaces the chip (old chip revoked, linked to the new one)")
    func replaced() async throws {
        let dir = TempDir()
        let replica = try await Self.replica(dir)
        try await replica.applyChanges([
            .upsert(try Self.card(uid: Self.oldChip, status: .revoked, replacedBy: Self.newChip)),
            .upsert(try Self.card(uid: Self.newChip)),
        ], cursor: 2)
        let event = try await Self.tapOldChip(replica)
        #expect(event.verdict == .revoked)
        #expect(event.reasonCode == "replaced")
    }

    @Test("the central takes the chip away (the card becomes printed only)")
    func chipRemoved() async throws {
        let dir = TempDir()
        let replica = try await Self.replica(dir)
        try await replica.applyChanges([.upsert(try Self.card(uid: nil))], cursor: 2)
        #expect(try await Self.tapOldChip(replica).verdict == .revoked)
    }

    @Test("the central deletes the old chip's row (a feed removal) while the number lives on")
    func chipDeleted() async throws {
        let dir = TempDir()
        let replica = try await Self.replica(dir)
        try await replica.applyChanges([.upsert(try Self.card(uid: Self.newChip)), .remove(try Self.card(uid: Self.oldChip))], cursor: 2)
        #expect(try await Self.tapOldChip(replica).verdict == .revoked)
    }

    @Test("a registry CSV re-import names a new UID for the number")
    func csvReimport() async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        let header = "card_number;uid;entitlement;role;first_name;last_name;valid_from;valid_until;status\n"
        _ = try replica.importRegistry(try RegistryCSV.parse(Array((header + "\(Self.number);\(Self.oldChip);senior60;;Ewa;Nowak;2020-01-01;;active\n").utf8)).rows)
        #expect(try await Self.tapOldChip(replica).verdict == .valid)
        _ = try replica.importRegistry(try RegistryCSV.parse(Array((header + "\(Self.number);\(Self.newChip);senior60;;Ewa;Nowak;2020-01-01;;active\n").utf8)).rows)
        #expect(try await Self.tapOldChip(replica).verdict == .revoked)
    }

    @Test("a signed chip whose number the replica does not know is still accepted offline")
    func unknownNumberStillVouched() async throws {
        let dir = TempDir()
        let replica = try Replica(path: dir.file("replica.sqlite"))
        let event = try await Self.tapOldChip(replica)
        #expect(event.verdict == .valid)
        #expect(event.acceptedOffline)
    }
}
