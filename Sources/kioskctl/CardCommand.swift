import ArgumentParser
import CardFormat
import CardModel
import CardReader
import Foundation
import KioskConfig
import Logging

struct CardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "card",
        abstract: "Issue cards: make signing keys and personalise blank NTAG cards.",
        subcommands: [Keygen.self, Write.self, Encode.self]
    )

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a card-signing key pair: the private key (mode 0600) stays at the issuing desk, the public key goes to every kiosk's trusted keys."
        )
        @Option(help: "The key id written on every card it signs (0-255); use a new one at each rotation.")
        var keyID: UInt8
        @Option(help: "Where to write the private key (refuses to overwrite).")
        var privateKey: String
        @Option(help: "Where to write the public key line for the kiosks' trusted keys.")
        var publicKey: String

        func run() async throws {
            let key = CardSigningKey.generate(keyID: keyID)
            do { try key.writeFiles(privateKeyPath: privateKey, publicKeyPath: publicKey) } catch {
                fail("\(error)", code: 1)
            }
            print("key \(keyID): private key \(privateKey) (0600), public key \(publicKey)")
        }
    }

    struct Write: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a signed CUS card record to the blank NTAG on the reader.",
            discussion: """
                The signing key is read from a file with mode 0600 (--key-file) or a systemd credential \
                (--key-credential NAME, from $CREDENTIALS_DIRECTORY), never from the command line. \
                The record is signed for the UID of the tag on the reader, so it cannot be copied to another chip. \
                Stop kioskd first if it uses the same reader.
                """
        )
        @OptionGroup var options: KioskOptions
        @OptionGroup var record: RecordOptions
        @Option(help: "Private key file (mode 0600).")
        var keyFile: String?
        @Option(help: "Name of a systemd credential holding the private key.")
        var keyCredential: String?
        @Option(help: "libnfc connstring of the reader (default: KIOSK_NFC_DEVICE or the first reader found).")
        var device: String?
        @Flag(help: "Set the lock bits afterwards: the card can never be rewritten.")
        var lock = false
        @Option(help: "Seconds to wait for a card on the reader.")
        var wait: Int = 15

        func run() async throws {
            let config = try loadConfig(options)
            let content = record.content()
            let key: CardSigningKey
            do {
                switch (keyFile, keyCredential) {
                case (let path?, nil): key = try CardSigningKey.load(path: path)
                case (nil, let name?): key = try CardSigningKey.loadCredential(named: name)
                default: fail("give exactly one of --key-file or --key-credential", code: 1)
                }
            } catch {
                fail("\(error)", code: 1)
            }
            // Fail early on a record that cannot be encoded, before a card is on the reader.
            do {
                let probe = try ChipUID(bytes: [0x04, 0, 0, 0, 0, 0, 0])
                _ = try CardRecordEncoder.payload(for: content, uid: probe, key: key)
            } catch let error as CardEncodingError {
                fail("\(error)", code: 1)
            }
            var logger = Logger(label: "kioskctl")
            logger.logLevel = .warning
            let writer = TagWriter(
                connstring: device ?? config.nfcDevice, lockDirectory: config.stateDirectory, logger: logger,
                tagWait: .seconds(wait)
            )
            print("Place a blank card on the reader…")
            do {
                let written = try await writer.write(lock: lock) { uid, technology throws(TagWriteError) in
                    guard let tag = TagType(technology: technology) else {
                        throw TagWriteError(code: .notNTAG, message: "the tag is \(technology.rawValue); CUS cards are NTAG213/215/216")
                    }
                    do {
                        return try CardRecordEncoder.userMemory(for: content, uid: uid, key: key, tag: tag)
                    } catch {
                        throw TagWriteError(code: .tooSmall, message: "\(error)")
                    }
                }
                print("written: card \(content.number.masked) on \(written.technology.rawValue) \(written.uid.masked), \(written.pagesWritten) pages\(written.locked ? ", locked" : "")")
            } catch {
                fail("\(error)", code: 1)
            }
        }
    }

    struct Encode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a signed card as a pn532-emulator card file (JSON), for demos and tests; writes no tag."
        )
        @OptionGroup var record: RecordOptions
        @Option(help: "The chip UID (7 bytes hex) the record is signed for.")
        var uid: String
        @Option(help: "Private key file (mode 0600).")
        var keyFile: String
        @Option(help: "ntag213, ntag215 or ntag216.")
        var tag: String = "ntag215"

        func run() async throws {
            let content = record.content()
            let chip: ChipUID
            do { chip = try ChipUID(hex: uid) } catch { fail("--uid: \(error)", code: 1) }
            guard TagType(rawValue: tag) != nil else { fail("--tag is ntag213, ntag215 or ntag216", code: 1) }
            do {
                let key = try CardSigningKey.load(path: keyFile)
                let message = try CardRecordEncoder.ndefMessage(for: content, uid: chip, key: key)
                let hex = message.map { String(format: "%02X", $0) }.joined()
                print("{\"kind\":\"\(tag)\",\"uid\":\"\(chip.hex)\",\"ndef\":\"\(hex)\"}")
            } catch {
                fail("\(error)", code: 1)
            }
        }
    }

    /// What a card record says, as given on the command line.
    struct RecordOptions: ParsableArguments {
        @Argument(help: "The card number, as printed.")
        var number: String
        @Option(name: .customLong("entitlement"), help: "senior60, large_family, disability or staff; repeat for several.")
        var entitlements: [String] = []
        @Option(help: "parent or child (large_family only).")
        var role: String?
        @Option(help: "Last day of validity, YYYY-MM-DD; omit for no end date.")
        var validUntil: String?

        /// The record's content, or exit with a message saying what is wrong.
        func content() -> CardRecordContent {
            let cardNumber: CardNumber
            do { cardNumber = try CardNumber(normalising: number) } catch { fail(error.message.en, code: 1) }
            var kinds: Set<EntitlementKind> = []
            for text in entitlements {
                guard let kind = EntitlementKind(rawValue: text) else {
                    fail("unknown entitlement \(text); use \(EntitlementKind.allCases.map(\.rawValue).joined(separator: ", "))", code: 1)
                }
                kinds.insert(kind)
            }
            var familyRole: FamilyRole?
            if let role {
                guard let r = FamilyRole(rawValue: role) else { fail("role is parent or child, not \(role)", code: 1) }
                familyRole = r
            }
            var until: CivilDate?
            if let validUntil {
                do { until = try CivilDate(iso: validUntil) } catch { fail("--valid-until \(validUntil): \(error)", code: 1) }
            }
            return CardRecordContent(number: cardNumber, entitlements: kinds, role: familyRole, validUntil: until)
        }
    }
}
