import ArgumentParser
import CardModel
import CentralWire
import Foundation
import KioskConfig
import Outbox

/// `kioskctl outbox`: the requests waiting at this kiosk, and what staff do with those the central could not read.
struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox",
        abstract: "List, show, re-queue or discard residents' requests waiting at this kiosk (kioskd may keep running).",
        discussion: """
            Quarantined requests are those the central could not read; each keeps its card number and phone until
            a person re-queues it (it is sent again at the next sync) or discards it (both are erased).
            KEY is a request's id (a UUIDv7) or its ticket (e.g. B7-4KXMQ). Exit status: 0 done; 1 the outbox
            cannot be opened; 2 no such request, or not in a state that allows it.
            """,
        subcommands: [List.self, Show.self, Requeue.self, Discard.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List quarantined and pending requests (masked card numbers).")
        @OptionGroup var options: KioskOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let outbox = try openOutbox(try loadConfig(options))
            let items: [OutboxItem]
            do { items = try outbox.items(inStates: ["quarantined", "pending"]) } catch { fail(error.description, code: 1) }
            // Quarantined first: they need a person.
            let ordered = items.filter { $0.state.name == "quarantined" } + items.filter { $0.state.name == "pending" }
            if json {
                printJSON(["requests": ordered.map { summary($0) }])
                return
            }
            if ordered.isEmpty {
                print("no quarantined or pending requests")
                return
            }
            let rows = ordered.map { item in
                [item.idempotencyKey, item.ticket ?? "-", item.service ?? "-", item.state.name, masked(item.cardNumber, kind: item.kind), reasonText(item)]
            }
            printTable(header: ["KEY", "TICKET", "SERVICE", "STATE", "CARD", "REASON"], rows: rows)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show everything about one request; the card number and phone in full only with --reveal.")
        @OptionGroup var options: KioskOptions
        @Argument(help: "The request's id or ticket.") var key: String
        @Flag(help: "Show the card number and the phone in full (they are a resident's personal data).") var reveal = false
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let outbox = try openOutbox(try loadConfig(options))
            let item = find(outbox, key)
            var out = summary(item)
            out["card"] = reveal ? (item.cardNumber ?? "") : masked(item.cardNumber, kind: item.kind)
            out["phone"] = item.phone.map { reveal ? $0 : maskedPhone($0) } ?? ""
            out["details"] = item.detailsJSON
            out["identity"] = item.identity.rawValue
            out["kiosk_seq"] = String(item.kioskSeq)
            out["month"] = item.month ?? ""
            out["catalogue_version"] = item.catalogueVersion.map(String.init) ?? ""
            out["settled_at"] = item.settledAt ?? ""
            out["central_status"] = item.centralStatus ?? ""
            out["scheduled_for"] = item.scheduledFor ?? ""
            out["declined_reason"] = item.reason.map { "\($0.code): \($0.text.pl)" } ?? ""
            if case .delivered(let outcome, let requestID) = item.state {
                out["outcome"] = outcome.rawValue
                out["request_id"] = requestID.map(String.init) ?? ""
            }
            if json {
                printJSON(out.filter { !$0.value.isEmpty })
            } else {
                for key in out.keys.sorted() where !(out[key] ?? "").isEmpty { print("\(key):".padding(toLength: 19, withPad: " ", startingAt: 0) + (out[key] ?? "")) }
            }
        }
    }

    struct Requeue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a quarantined request back in the queue (sent again at the next sync).")
        @OptionGroup var options: KioskOptions
        @Argument(help: "The request's id or ticket.") var key: String

        func run() async throws {
            let outbox = try openOutbox(try loadConfig(options))
            do {
                let item = try outbox.requeue(keyOrTicket: key)
                print("re-queued \(item.idempotencyKey) (\(item.ticket ?? "no ticket")); it is sent at the next sync (kioskctl sync)")
            } catch {
                fail(error.description, code: error.code == .database ? 1 : 2)
            }
        }
    }

    struct Discard: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Settle a quarantined request for good, erasing its card number and phone.")
        @OptionGroup var options: KioskOptions
        @Argument(help: "The request's id or ticket.") var key: String

        func run() async throws {
            let outbox = try openOutbox(try loadConfig(options))
            do {
                let item = try outbox.discard(keyOrTicket: key)
                print("discarded \(item.idempotencyKey) (\(item.ticket ?? "no ticket")); its card number and phone are erased")
            } catch {
                fail(error.description, code: error.code == .database ? 1 : 2)
            }
        }
    }
}

/// The outbox kioskd keeps in the state directory; never created here.
func openOutbox(_ config: KioskConfiguration) throws -> Outbox {
    let path = (config.stateDirectory as NSString).appendingPathComponent("outbox.sqlite")
    guard FileManager.default.fileExists(atPath: path) else {
        fail("there is no outbox at \(path) (kioskd creates it when it starts; check state_dir / KIOSK_STATE_DIR)", code: 1)
    }
    do { return try Outbox(path: path) } catch { fail(error.description, code: 1) }
}

private func find(_ outbox: Outbox, _ key: String) -> OutboxItem {
    let found: OutboxItem?
    do { found = try outbox.item(keyOrTicket: key) } catch { fail(error.description, code: 1) }
    guard let found else { fail("no request has the id or ticket \(key.prefix(60)); see kioskctl outbox list", code: 2) }
    return found
}

/// What `list` shows of an item, and `show` starts from: no full card number, no phone.
private func summary(_ item: OutboxItem) -> [String: String] {
    [
        "id": item.idempotencyKey, "ticket": item.ticket ?? "", "kind": item.kind.rawValue, "service": item.service ?? "",
        "state": item.state.name, "reason": reasonText(item), "card": masked(item.cardNumber, kind: item.kind),
        "created_at": item.createdAt, "attempts": String(item.attempts), "last_error": item.lastError ?? "",
        "has_phone": item.phone == nil ? "no" : "yes",
    ]
}

private func reasonText(_ item: OutboxItem) -> String {
    if case .quarantined(let reason) = item.state { return reason }
    return item.lastError ?? ""
}

private func masked(_ number: String?, kind: RequestKind) -> String {
    guard let number else { return kind == .callback ? "(call-back, no card)" : "(erased)" }
    return "…" + number.suffix(4)
}

private func maskedPhone(_ phone: String) -> String { "…" + phone.suffix(3) }

private func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(value) else { fail("cannot write JSON", code: 1) }
    print(String(decoding: data, as: UTF8.self))
}

private func printTable(header: [String], rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        print(row.enumerated().map { column, cell in
            column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
        }.joined(separator: "  "))
    }
}
