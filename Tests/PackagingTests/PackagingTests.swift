import Foundation
import KioskCore
import KioskConfig
import KioskTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

// The Debian package as a technician gets it: `bash .ci/package` on this build's binaries, then
// installed, reinstalled, removed and purged with the real dpkg in a scratch root (`dpkg --root`,
// maintainer scripts run chrootless with DPKG_ROOT), checking what lands where, with which owner
// and mode, which files are conffiles, and what the maintainer scripts did to the root's users.

/// The repository's top folder (this file is Tests/PackagingTests/PackagingTests.swift).
private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

private let haveDpkgDeb = FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg-deb")

@Suite("Debian package", .serialized, .spawnsProcesses)
struct PackagingTests {
    @Test(
        "bash .ci/package builds a .deb that installs, reinstalls, removes and purges cleanly in a scratch root",
        .enabled(if: haveDpkgDeb, "dpkg-deb is missing: not a Debian system, the package cannot be built here"),
        .enabled(if: geteuid() == 0, "dpkg --root must run as root to give the installed files their root owner (CI runs as root)")
    )
    func packageInstallsIntoScratchRoot() async throws {
        let tmp = TempDir(prefix: "cus-package-test")
        let binDir = URL(fileURLWithPath: binary("kioskd")).deletingLastPathComponent().path

        // Build the package from this build's binaries (uncompressed: a debug build is large).
        let built = try await run("/bin/bash", [repository + "/.ci/package", "--bin-dir", binDir, "--out", tmp.file("out"), "--compress", "none"])
        try require(built.status == 0, ".ci/package failed (exit \(built.status)):\n\(built.stderr)")
        let deb = built.stdout.split(separator: "\n").last.map(String.init) ?? ""
        try require(FileManager.default.fileExists(atPath: deb), ".ci/package printed no package path: \(built.stdout)")

        // The control file, and the name dpkg-deb gave the file.
        let arch = try await output("/usr/bin/dpkg", ["--print-architecture"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let control = try await output("/usr/bin/dpkg-deb", ["--field", deb])
        let field = { (name: String) -> String in
            control.split(separator: "\n").first { $0.hasPrefix(name + ": ") }.map { String($0.dropFirst(name.count + 2)) } ?? ""
        }
        #expect(field("Package") == "cus-kiosk")
        #expect(field("Architecture") == arch)
        #expect(URL(fileURLWithPath: deb).lastPathComponent == "cus-kiosk_\(field("Version"))_\(arch).deb")
        #expect(field("Version") == KioskVersion.current || field("Version").hasPrefix(KioskVersion.current + "+git"), "the package's version \(field("Version")) is not the one kioskd reports, \(KioskVersion.current)")
        let depends = field("Depends")
        for package in ["libc6", "libnfc6", "libsqlite3-0", "tzdata", "passwd"] {
            #expect(depends.contains(package), "Depends lacks \(package): \(depends)")
        }
        #expect(!depends.lowercased().contains("swift"), "no Debian package provides the Swift runtime: \(depends)")

        // The archive: every entry owned by root, nothing from the build folder.
        let contents = try await output("/usr/bin/dpkg-deb", ["--contents", deb])
        var packaged: Set<String> = []
        for line in contents.split(separator: "\n") {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            try require(columns.count >= 6, "unexpected dpkg-deb --contents line: \(line)")
            #expect(columns[1] == "root/root", "not owned by root in the archive: \(line)")
            let path = String(columns[5...].joined(separator: " ").dropFirst(1))   // "./usr/bin/x" → "/usr/bin/x"
            #expect(!path.contains(".build") && !path.contains("/opt/"), "a build path in the package: \(path)")
            if columns[0].hasPrefix("-") { packaged.insert(path) }
        }

        // A scratch root with just what dpkg and useradd need: dpkg's database and the base users.
        let root = tmp.file("root")
        for dir in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log", "etc"] {
            try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true)
        }
        for file in ["var/lib/dpkg/status", "var/lib/dpkg/available"] { _ = FileManager.default.createFile(atPath: root + "/" + file, contents: nil) }
        try Data("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n".utf8)
            .write(to: URL(fileURLWithPath: root + "/etc/passwd"))
        try Data("root:x:0:\nlp:x:7:\ndialout:x:20:\naudio:x:29:\nvideo:x:44:\nplugdev:x:46:\ninput:x:101:\nrender:x:102:\nnogroup:x:65534:\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/group"))
        let dpkg = { (arguments: [String]) async throws -> Finished in
            try await run("/usr/bin/dpkg", ["--root=\(root)", "--log=\(root)/var/log/dpkg.log", "--force-script-chrootless", "--force-depends"] + arguments)
        }

        // Install.
        let installed = try await dpkg(["--install", deb])
        try require(installed.status == 0, "dpkg --install failed (exit \(installed.status)):\n\(installed.stdout)\n\(installed.stderr)")
        #expect(try await status(root) == "install ok installed")

        // Files, owners and modes.
        let expected: [(path: String, mode: mode_t)] = [
            ("/usr/bin/kioskd", 0o755), ("/usr/bin/kioskctl", 0o755), ("/usr/bin/cus-central", 0o755),
            ("/etc/cus-kiosk/kiosk.toml", 0o644),
            ("/etc/modprobe.d/cus-kiosk-blacklist-nfc.conf", 0o644),
            ("/lib/udev/rules.d/60-cus-kiosk-nfc.rules", 0o644),
            ("/usr/share/cus-kiosk/ui/index.html", 0o644),
            ("/usr/share/doc/cus-kiosk/README.md", 0o644), ("/usr/share/doc/cus-kiosk/copyright", 0o644),
        ]
        for (path, mode) in expected {
            let info = try fileStatus(root + path)
            #expect(info.st_mode & S_IFMT == S_IFREG, "\(path) is not a regular file")
            #expect(info.st_mode & 0o7777 == mode, "\(path) has mode \(String(info.st_mode & 0o7777, radix: 8)), expected \(String(mode, radix: 8))")
            #expect(info.st_uid == 0 && info.st_gid == 0, "\(path) is owned by \(info.st_uid):\(info.st_gid), expected root:root")
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/usr/bin/pn532-emulator"), "the emulator is a test double, not shipped")
        // Every unit, the whole screen and the reader rule as they are in the repository.
        let units = try FileManager.default.contentsOfDirectory(atPath: repository + "/systemd").filter { $0.hasSuffix(".service") }
        #expect(units.contains("kioskd.service"))
        for unit in units { try expectSame(repository + "/systemd/" + unit, root + "/lib/systemd/system/" + unit) }
        // …and every unit starts the programs where the package puts them.
        for unit in units {
            let text = try String(contentsOfFile: root + "/lib/systemd/system/" + unit, encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("Exec") {
                guard let command = line.split(separator: "=", maxSplits: 1).last?.split(separator: " ").first else { continue }
                let program = String(command.drop { "-@+!:".contains($0) })
                if ["kioskd", "kioskctl", "cus-central"].contains(URL(fileURLWithPath: program).lastPathComponent) {
                    #expect(packaged.contains(program), "\(unit): \(line) runs \(program), which the package does not install")
                }
            }
        }
        // The whole screen, its string catalogues in Kiosk/i18n/ too.
        let screenFiles = FileManager.default.enumerator(atPath: repository + "/Kiosk")?.compactMap { $0 as? String } ?? []
        #expect(screenFiles.contains("i18n/uk.json"))
        for file in screenFiles where !isDirectory(repository + "/Kiosk/" + file) {
            try expectSame(repository + "/Kiosk/" + file, root + "/usr/share/cus-kiosk/ui/" + file)
        }
        try expectSame(repository + "/Hardware/udev/60-cus-kiosk-nfc.rules", root + "/lib/udev/rules.d/60-cus-kiosk-nfc.rules")
        try expectSame(repository + "/Hardware/modprobe/blacklist-nfc.conf", root + "/etc/modprobe.d/cus-kiosk-blacklist-nfc.conf")
        // Every packaged file: owned by root, writable by nobody else.
        for path in packaged {
            let info = try fileStatus(root + path)
            #expect(info.st_uid == 0, "\(path) is not owned by root")
            #expect(info.st_mode & 0o022 == 0, "\(path) is writable by group or others")
        }

        // Conffiles: exactly the files under /etc, kiosk.toml among them.
        let conffiles = try await output("/usr/bin/dpkg-query", ["--root=\(root)", "--show", "--showformat=${Conffiles}", "cus-kiosk"])
            .split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(Set(conffiles) == Set(packaged.filter { $0.hasPrefix("/etc/") }), "conffiles: \(conffiles)")
        #expect(conffiles.contains("/etc/cus-kiosk/kiosk.toml"))

        // The default configuration is valid and runs a standalone kiosk on loopback with the first reader.
        let config = try KioskConfiguration.load(file: root + "/etc/cus-kiosk/kiosk.toml", environment: [:])
        #expect(config.stateDirectory == "/var/lib/cus-kiosk")
        #expect(config.httpAddress == HostPort(host: "127.0.0.1", port: 8080))
        #expect(config.nfcEnabled && config.nfcDevice == nil && config.centralURL == nil)

        // The binaries find their libraries in the system and the package only (never /opt/swift or .build).
        let privateLibs = root + "/usr/lib/cus-kiosk/swift"
        for program in ["kioskd", "kioskctl", "cus-central"] {
            let dynamic = try await output("/usr/bin/readelf", ["--dynamic", root + "/usr/bin/" + program])
            for line in dynamic.split(separator: "\n") where line.contains("RUNPATH") || line.contains("RPATH") {
                #expect(line.contains("[/usr/lib/cus-kiosk/swift]"), "\(program): \(line)")
            }
            let ran = try await run(root + "/usr/bin/" + program, ["--help"], environment: ["LD_LIBRARY_PATH": privateLibs])
            #expect(ran.status == 0, "\(program) --help with the packaged libraries: exit \(ran.status)\n\(ran.stderr)")
        }

        // The maintainer scripts: system users, reader groups, state folders, kioskd enabled.
        let kiosk = try #require(try passwdEntry(root, "kiosk"), "postinst made no kiosk user")
        #expect(Int(kiosk[2]).map { $0 > 0 && $0 < 1000 } == true, "kiosk is not a system user: \(kiosk)")
        #expect(kiosk[6] == "/usr/sbin/nologin" && kiosk[5] == "/var/lib/cus-kiosk")
        for group in ["plugdev", "dialout", "lp"] {
            #expect(try groupMembers(root, group).contains("kiosk"), "kiosk is not in \(group)")
        }
        // The screen's user: the compositor's groups, none of the reader's.
        #expect(try passwdEntry(root, "kiosk-ui") != nil, "postinst made no kiosk-ui user")
        for group in ["video", "render", "input", "audio"] {
            #expect(try groupMembers(root, group).contains("kiosk-ui"), "kiosk-ui is not in \(group)")
        }
        #expect(try !groupMembers(root, "plugdev").contains("kiosk-ui"))
        #expect(try passwdEntry(root, "cus-central") != nil, "postinst made no cus-central user")
        let state = try fileStatus(root + "/var/lib/cus-kiosk")
        #expect(state.st_mode & 0o7777 == 0o700 && String(state.st_uid) == kiosk[2], "/var/lib/cus-kiosk: mode \(String(state.st_mode & 0o7777, radix: 8)), owner \(state.st_uid)")
        let wants = root + "/etc/systemd/system/multi-user.target.wants/"
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: wants + "kioskd.service")) == "/lib/systemd/system/kioskd.service", "kioskd.service is not enabled")
        #expect(!FileManager.default.fileExists(atPath: wants + "cus-central.service"), "cus-central.service must be left for the administrator to enable")
        #expect(FileManager.default.fileExists(atPath: root + "/lib/systemd/system/kiosk-ui.service"))
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/systemd/system/graphical.target.wants/kiosk-ui.service"),
                "kiosk-ui.service must be left for the administrator to enable on the machine with the screen")

        // Reinstalling keeps an administrator's change to a conffile and makes no second user.
        let edited = try String(contentsOfFile: root + "/etc/cus-kiosk/kiosk.toml", encoding: .utf8) + "kiosk_name = \"skalka-1\"\n"
        try Data(edited.utf8).write(to: URL(fileURLWithPath: root + "/etc/cus-kiosk/kiosk.toml"))
        let again = try await dpkg(["--install", deb])
        try require(again.status == 0, "reinstalling failed (exit \(again.status)):\n\(again.stderr)")
        #expect(try String(contentsOfFile: root + "/etc/cus-kiosk/kiosk.toml", encoding: .utf8) == edited)
        let passwd = try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)
        #expect(passwd.split(separator: "\n").filter { $0.hasPrefix("kiosk:") }.count == 1)

        // Remove: the programs go, the configuration stays.
        let removed = try await dpkg(["--remove", "cus-kiosk"])
        try require(removed.status == 0, "dpkg --remove failed (exit \(removed.status)):\n\(removed.stderr)")
        #expect(try await status(root) == "deinstall ok config-files")
        #expect(!FileManager.default.fileExists(atPath: root + "/usr/bin/kioskd"))
        #expect(FileManager.default.fileExists(atPath: root + "/etc/cus-kiosk/kiosk.toml"))

        // Purge: configuration, the kiosk's state and its user go; the central's database and user stay.
        let purged = try await dpkg(["--purge", "cus-kiosk"])
        try require(purged.status == 0, "dpkg --purge failed (exit \(purged.status)):\n\(purged.stderr)")
        #expect(try await status(root) != "install ok installed")
        for path in packaged { #expect(!FileManager.default.fileExists(atPath: root + path), "\(path) survived the purge") }
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/cus-kiosk"))
        #expect(!FileManager.default.fileExists(atPath: root + "/var/lib/cus-kiosk"))
        #expect(try passwdEntry(root, "kiosk") == nil, "the kiosk user survived the purge")
        #expect(try passwdEntry(root, "kiosk-ui") == nil, "the kiosk-ui user survived the purge")
        #expect(try !String(contentsOfFile: root + "/etc/group", encoding: .utf8).split(separator: "\n").contains { $0.hasPrefix("kiosk:") })
        #expect(try !groupMembers(root, "plugdev").contains("kiosk"))
        #expect(try passwdEntry(root, "cus-central") != nil && FileManager.default.fileExists(atPath: root + "/var/lib/cus-central"),
                "the central's user and database folder must survive a purge")
    }
}

/// Fails the test with `message` unless `condition` holds (for steps the rest depends on).
private func require(_ condition: Bool, _ message: String) throws {
    if !condition { throw TestFailure(message) }
}

/// The standard output of a program that must succeed.
private func output(_ program: String, _ arguments: [String]) async throws -> String {
    let finished = try await run(program, arguments)
    try require(finished.status == 0, "\(program) \(arguments.joined(separator: " ")) failed (exit \(finished.status)): \(finished.stderr)")
    return finished.stdout
}

/// dpkg's status of cus-kiosk in the scratch root ("install ok installed"), or "" when it has none.
private func status(_ root: String) async throws -> String {
    let finished = try await run("/usr/bin/dpkg-query", ["--root=\(root)", "--show", "--showformat=${Status}", "cus-kiosk"])
    return finished.status == 0 ? finished.stdout : ""
}

private func fileStatus(_ path: String) throws -> stat {
    var info = stat()
    guard lstat(path, &info) == 0 else { throw TestFailure("\(path) is missing") }
    return info
}

private func expectSame(_ source: String, _ installed: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let a = FileManager.default.contents(atPath: source)
    let b = FileManager.default.contents(atPath: installed)
    #expect(a != nil && a == b, "\(installed) is missing or differs from \(source)", sourceLocation: sourceLocation)
}

/// The fields of `name`'s line in the root's /etc/passwd, or `nil`.
private func passwdEntry(_ root: String, _ name: String) throws -> [String]? {
    try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8).split(separator: "\n")
        .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        .first { $0.first == name && $0.count == 7 }
}

/// The members listed for `group` in the root's /etc/group.
private func groupMembers(_ root: String, _ group: String) throws -> [String] {
    let line = try String(contentsOfFile: root + "/etc/group", encoding: .utf8).split(separator: "\n")
        .map { $0.split(separator: ":", omittingEmptySubsequences: false) }
        .first { $0.first.map(String.init) == group }
    guard let line, line.count == 4 else { return [] }
    return line[3].split(separator: ",").map(String.init)
}

/// Whether `path` is a folder.
private func isDirectory(_ path: String) -> Bool {
    var isDir: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
}
