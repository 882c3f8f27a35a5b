import ArgumentParser

/// `kioskctl`: the operator's tool for a kiosk (replica, checks, status, cards, the outbox).
@main
struct Kioskctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kioskctl",
        abstract: "Operate a CUS card-check kiosk.",
        subcommands: [
            ReplicaCommand.self, CheckCommand.self, StatusCommand.self, SyncCommand.self, CardCommand.self,
            BackupCommand.self, RestoreCommand.self, DoctorCommand.self, OutboxCommand.self, StaffCommand.self,
        ]
    )
}

/// Options every subcommand shares: where the kiosk's config is.
struct KioskOptions: ParsableArguments {
    @Option(name: .long, help: "kioskd's TOML config file (for state_dir and http.addr).")
    var config: String?
}
