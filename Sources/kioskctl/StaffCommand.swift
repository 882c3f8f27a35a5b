import ArgumentParser
import CardModel
import Foundation
import KioskConfig
import StaffAccess

/// `kioskctl staff pin`: the PINs that, with a staff card, open verification mode at this kiosk.
struct StaffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staff",
        abstract: "Manage staff PINs for verification mode (a staff card plus its PIN; kioskd may keep running).",
        subcommands: [Pin.self]
    )

    struct Pin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set, remove or list staff PINs (kept as salted hashes in state_dir/staff-pins.json).",
            subcommands: [Set.self, Remove.self, List.self]
        )

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Set the PIN (4 to 6 digits) of a staff card; read from standard input unless --pin is given.",
                discussion: "The card must hold the staff entitlement in the registry. Five wrong PINs in a row lock the card for 15 minutes; setting a new PIN lifts the lock."
            )
            @OptionGroup var options: KioskOptions
            @Argument(help: "The staff card's number.") var number: String
            @Option(help: "The PIN (beware: visible in the shell's history and in ps; standard input is safer).") var pin: String?

            func run() async throws {
                let pins = try StaffCommand.pins(options)
                let card = try StaffCommand.cardNumber(number)
                let given = pin ?? (readLine(strippingNewline: true) ?? "")
                do { try pins.set(pin: given.trimmingCharacters(in: .whitespaces), for: card) } catch { fail(error.description, code: 1) }
                print("PIN set for \(card.masked)")
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a staff card's PIN.")
            @OptionGroup var options: KioskOptions
            @Argument(help: "The staff card's number.") var number: String

            func run() async throws {
                let pins = try StaffCommand.pins(options)
                let card = try StaffCommand.cardNumber(number)
                let had: Bool
                do { had = try pins.remove(for: card) } catch { fail(error.description, code: 1) }
                guard had else { fail("\(card.masked) has no PIN", code: 2) }
                print("PIN removed for \(card.masked)")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the staff cards with a PIN (masked).")
            @OptionGroup var options: KioskOptions

            func run() async throws {
                let pins = try StaffCommand.pins(options)
                do {
                    for card in try pins.cards() { print(card.masked + (card.locked ? "  (locked)" : "")) }
                } catch { fail(error.description, code: 1) }
            }
        }
    }

    static func pins(_ options: KioskOptions) throws -> StaffPINs {
        let config = try loadConfig(options)
        return StaffPINs(path: (config.stateDirectory as NSString).appendingPathComponent("staff-pins.json"))
    }

    static func cardNumber(_ text: String) throws -> CardNumber {
        do { return try CardNumber(normalising: text) } catch { fail("card number: \(error.message.en)", code: 1) }
    }
}
