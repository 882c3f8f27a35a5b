import ArgumentParser
import Foundation
import Glibc
import PN532Emulator

/// `pn532-emulator`: an emulated PN532 reader on a pseudo-terminal, and a client for its control socket.
@main
struct EmulatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pn532-emulator",
        abstract: "An emulated PN532 NFC reader on a pseudo-terminal, for libnfc (pn532_uart:PATH).",
        subcommands: [Serve.self, Place.self, Remove.self, Fault.self, Latency.self, Status.self]
    )
}

/// Options shared by the client subcommands.
struct ControlOptions: ParsableArguments {
    @Option(name: .long, help: "The control socket of a running `pn532-emulator serve`.")
    var control: String

    func send(_ command: EmulatorControlCommand) throws -> String {
        do {
            return try EmulatorControlClient.send(command, socketPath: control)
        } catch let error as EmulatorError {
            throw CommandFailure(error.description)
        }
    }
}

/// An error printed as `Error: MESSAGE`, exiting with status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve an emulated PN532 until SIGINT or SIGTERM.",
        discussion: "Prints device=PATH and connstring=pn532_uart:PATH on stdout once the device is ready."
    )

    @Option(name: .long, help: "Keep a symlink here to the current /dev/pts/N (a stable device path).")
    var link: String?

    @Option(name: .long, help: "Listen for control commands on this UNIX socket.")
    var control: String?

    @Option(name: .long, help: "A card JSON file to place in the field at start.")
    var card: String?

    @Option(name: .customLong("latency-ms"), help: "Per-command latency in milliseconds.")
    var latencyMs: Int = 0

    func validate() throws {
        guard latencyMs >= 0 else { throw ValidationError("--latency-ms must be 0 or more") }
    }

    func run() throws {
        var initialCard: EmulatedCard?
        if let card {
            do {
                initialCard = try EmulatedCard.load(fromFile: card)
            } catch {
                throw CommandFailure(error.description)
            }
        }
        // Block the stop signals before any thread starts, so only sigwait below receives them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let emulator: PN532Emulator
        let server: EmulatorControlServer?
        do {
            emulator = try PN532Emulator(linkPath: link)
            emulator.commandLatency = .milliseconds(latencyMs)
            if let initialCard { try emulator.place(initialCard) }
            server = try control.map { try EmulatorControlServer(emulator: emulator, socketPath: $0) }
        } catch let error as EmulatorError {
            throw CommandFailure(error.description)
        }
        emulator.start()
        server?.start()

        var lines = "device=\(emulator.devicePath)\nconnstring=\(emulator.connstring)\n"
        if let control { lines += "control=\(control)\n" }
        FileHandle.standardOutput.write(Data(lines.utf8))

        var received: Int32 = 0
        sigwait(&signals, &received)
        server?.stop()
        emulator.stop()
    }
}

struct Place: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Put the card described by a JSON file in the field.")

    @Argument(help: "The card JSON file.")
    var file: String

    @OptionGroup var options: ControlOptions

    func run() throws {
        let card: EmulatedCard
        do {
            card = try EmulatedCard.load(fromFile: file)
        } catch {
            throw CommandFailure(error.description)
        }
        _ = try options.send(.place(card))
    }
}

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take the card out of the field.")

    @OptionGroup var options: ControlOptions

    func run() throws {
        _ = try options.send(.remove)
    }
}

struct Fault: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inject a fault.",
        discussion: "Faults: silent MS, garbage, bad-checksum, slow MS, vanish MS, tear N."
    )

    @Argument(help: "The fault and its number, e.g. `silent 1500`.")
    var words: [String]

    @OptionGroup var options: ControlOptions

    func run() throws {
        let fault: EmulatorFault
        do {
            fault = try EmulatorFault(words: words)
        } catch {
            throw CommandFailure(error.description)
        }
        _ = try options.send(.fault(fault))
    }
}

struct Latency: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Set the per-command latency.")

    @Argument(help: "Milliseconds between the ACK and the answer of every command.")
    var milliseconds: Int

    @OptionGroup var options: ControlOptions

    func validate() throws {
        guard milliseconds >= 0 else { throw ValidationError("milliseconds must be 0 or more") }
    }

    func run() throws {
        _ = try options.send(.latency(milliseconds: milliseconds))
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the emulator's status as JSON.")

    @OptionGroup var options: ControlOptions

    func run() throws {
        print(try options.send(.status))
    }
}
