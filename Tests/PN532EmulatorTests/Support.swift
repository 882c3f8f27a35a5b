import Foundation
import Glibc
import PN532Emulator

/// What a libnfc tool printed and how it ended.
struct ToolRun {
    var status: Int32
    var output: String
    var timedOut: Bool
}

enum LibnfcTool {
    /// Whether Debian's libnfc tools are installed (`apt-get install libnfc-bin`).
    static var isInstalled: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/nfc-list")
    }

    /// Runs a libnfc tool against one device only (no USB scan), with libnfc's own logging silenced.
    static func run(_ tool: String, _ arguments: [String], connstring: String, timeout: Duration = .seconds(60)) throws -> ToolRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/\(tool)")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LIBNFC_DEVICE"] = connstring
        environment["LIBNFC_AUTO_SCAN"] = "false"
        environment["LIBNFC_INTRUSIVE_SCAN"] = "false"
        environment["LIBNFC_LOG_LEVEL"] = "0"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while process.isRunning {
            if ContinuousClock.now > deadline {
                timedOut = true
                process.terminate()
                break
            }
            usleep(10_000)
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return ToolRun(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self), timedOut: timedOut)
    }
}

/// A scratch directory for links, sockets and card files, removed by `cleanUp()`.
struct Scratch {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("pn532-emu-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func file(_ name: String) -> String { path + "/" + name }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Polls `condition` until it holds or `timeout` passes (generous, for a loaded machine).
func eventually(timeout: Duration = .seconds(20), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

func symlinkTarget(_ path: String) -> String? {
    try? FileManager.default.destinationOfSymbolicLink(atPath: path)
}

extension EmulatedCard {
    static let ntag215 = EmulatedCard(kind: .ntag215, uid: "04:A1:B2:C3:D4:E5:F6", ndef: "D1010B5504637573")
}
