internal import CNFC
import Foundation

// The only file (with its companion NFCContext below) that calls libnfc. Everything here blocks:
// it is used only from a reader's own dedicated thread (see ReaderSession, TagWriter), never from Swift's
// cooperative pool, and none of these types is Sendable, so the compiler keeps them there.

/// The libnfc status codes the reader acts on (values from `<nfc/nfc.h>`).
enum NFCStatus {
    /// Input/output error: a corrupted frame, or a device that is gone.
    static let io = Int32(NFC_EIO)
    /// Invalid argument (e.g. presence check with no selected target).
    static let invalidArgument = Int32(NFC_EINVARG)
    /// Operation not supported by the device or for this target.
    static let notSupported = Int32(NFC_EDEVNOTSUPP)
    /// The reader did not answer in time.
    static let timeout = Int32(NFC_ETIMEOUT)
    /// The operation was aborted with `nfc_abort_command`.
    static let aborted = Int32(NFC_EOPABORTED)
    /// The target left the field.
    static let targetReleased = Int32(NFC_ETGRELEASED)
    /// The RF exchange with the card failed (card pulled mid-read, no answer, CRC error).
    static let rfTransmission = Int32(NFC_ERFTRANS)
    /// The card refused the command (a MIFARE NAK).
    static let cardRefused = Int32(NFC_EMFCAUTHFAIL)
    /// The PN53x reported an internal error (buffer overflow, RF overheat).
    static let chip = Int32(NFC_ECHIP)

    /// Whether a failed card command means the card (not the reader) failed: it left, refused, or
    /// was not selected any more. The reader answered, so the link is fine.
    static func isCardFailure(_ code: Int32) -> Bool {
        [rfTransmission, targetReleased, cardRefused, chip, invalidArgument].contains(code)
    }

    /// A short name for logs and health texts.
    static func name(_ code: Int32) -> String {
        switch code {
        case io: "NFC_EIO"
        case invalidArgument: "NFC_EINVARG"
        case notSupported: "NFC_EDEVNOTSUPP"
        case Int32(NFC_ENOTSUCHDEV): "NFC_ENOTSUCHDEV"
        case Int32(NFC_EOVFLOW): "NFC_EOVFLOW"
        case timeout: "NFC_ETIMEOUT"
        case aborted: "NFC_EOPABORTED"
        case Int32(NFC_ENOTIMPL): "NFC_ENOTIMPL"
        case targetReleased: "NFC_ETGRELEASED"
        case rfTransmission: "NFC_ERFTRANS"
        case Int32(NFC_EMFCAUTHFAIL): "NFC_EMFCAUTHFAIL"
        case Int32(NFC_ESOFT): "NFC_ESOFT"
        case Int32(NFC_ECHIP): "NFC_ECHIP"
        default: "libnfc error \(code)"
        }
    }
}

/// A libnfc context (`nfc_init`/`nfc_exit`), owned by one reader thread.
final class NFCContext {
    let pointer: OpaquePointer

    /// Initialises libnfc; nil when libnfc cannot allocate its context.
    init?() {
        var context: OpaquePointer?
        nfc_init(&context)
        guard let context else { return nil }
        pointer = context
    }

    deinit { nfc_exit(pointer) }

    /// The connstring of the first reader libnfc's scan finds (USB readers; serial ones only with
    /// intrusive scan), or nil.
    func firstConnstring() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(NFC_BUFSIZE_CONNSTRING))
        let found = buffer.withUnsafeMutableBufferPointer { out in
            cnfc_first_connstring(pointer, out.baseAddress, out.count)
        }
        guard found == 1 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Opens a reader; nil when libnfc cannot (path missing, device silent, not a PN53x).
    func open(_ connstring: String) -> NFCDevice? {
        guard let device = nfc_open(pointer, connstring) else { return nil }
        return NFCDevice(pointer: device, connstring: connstring)
    }
}

/// What `nfc_initiator_select_passive_target` found.
struct SelectedTarget: Equatable {
    /// The UID bytes as the reader reports them (4, 7 or 10 bytes; anything else is passed on).
    var uid: [UInt8]
    /// The SAK: 0 for Type 2 tags (Ultralight/NTAG), non-zero for MIFARE Classic, DESFire, …
    var sak: UInt8
    /// The ATQA, first byte high.
    var atqa: UInt16
}

/// The outcome of one select.
enum SelectOutcome: Equatable {
    /// The reader answered: no card in the field.
    case none
    /// A card was selected.
    case target(SelectedTarget)
    /// libnfc failed with this code.
    case failed(Int32)
}

/// What a select does when no card (or not the card asked for) is in the field.
enum SelectMode: Equatable {
    /// Infinite select off (MxRtyPassiveActivation 2): the reader tries briefly and answers "no
    /// target". A select by UID uses it, so that "the card left" is a definite, immediate answer.
    case askOnce
    /// Infinite select on (MxRtyPassiveActivation 0xFF): the reader keeps polling and answers the
    /// moment a card enters the field; libnfc ends the wait after 300 ms with `NFC_ETIMEOUT`.
    case waitForCard
}

/// One opened reader (`nfc_device *`). Confined to the thread that opened it.
final class NFCDevice {
    let pointer: OpaquePointer
    let connstring: String
    private var isClosed = false

    fileprivate init(pointer: OpaquePointer, connstring: String) {
        self.pointer = pointer
        self.connstring = connstring
    }

    deinit { close() }

    /// Closes the device (`nfc_close`); later calls do nothing.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        nfc_close(pointer)
    }

    /// How the reader's select behaves when no card is in the field (`NP_INFINITE_SELECT`), as last
    /// set; nil when unknown (a failed set, or a libnfc call that may have changed it).
    private(set) var selectMode: SelectMode?

    /// Puts the reader in initiator mode and sets what the kiosk relies on: a select that asks
    /// the field once and answers at once (``SelectMode/askOnce``), no automatic ISO 14443-4
    /// activation, CRC and easy framing handled by the PN53x.
    /// - Returns: 0, or the first libnfc error.
    func configureAsInitiator() -> Int32 {
        selectMode = nil
        var result = nfc_initiator_init(pointer)
        guard result >= 0 else { return result }
        for (property, value) in [
            (NP_INFINITE_SELECT, false), (NP_AUTO_ISO14443_4, false),
            (NP_HANDLE_CRC, true), (NP_HANDLE_PARITY, true), (NP_EASY_FRAMING, true),
        ] {
            result = nfc_device_set_property_bool(pointer, property, value)
            guard result >= 0 else { return result }
        }
        selectMode = .askOnce
        return 0
    }

    /// Sets the select mode: one RFConfiguration (MaxRetries) command, answered at once by a live
    /// reader and timed out by libnfc after 350 ms on a silent one. Always sent, even when the
    /// mode does not change, so it doubles as the reader loop's liveness probe.
    /// - Returns: 0, or the libnfc error (the mode is then unknown).
    func setSelectMode(_ mode: SelectMode) -> Int32 {
        let result = nfc_device_set_property_bool(pointer, NP_INFINITE_SELECT, mode == .waitForCard)
        selectMode = result >= 0 ? mode : nil
        return result
    }

    /// Forgets the select mode, so the next ``setSelectMode(_:)`` is not skipped by a caller that
    /// compares with ``selectMode``: after a failure, or when the reader behaved unlike the mode.
    func forgetSelectMode() {
        selectMode = nil
    }

    /// Selects one ISO 14443-A card at 106 kbps, optionally only the one with `uid`.
    ///
    /// In ``SelectMode/askOnce`` the reader answers at once (`.none` when no card). In
    /// ``SelectMode/waitForCard`` it answers the moment a card enters the field, and libnfc gives
    /// up after 300 ms with `NFC_ETIMEOUT` (then flushes its input for 50 ms): that timeout means
    /// "no card yet" *or* "the reader is silent", which only a probe can tell apart.
    func selectISO14443A(uid: [UInt8]? = nil) -> SelectOutcome {
        var target = nfc_target()
        let modulation = cnfc_iso14443a_106()
        let result: Int32
        if let uid, !uid.isEmpty {
            result = uid.withUnsafeBufferPointer { bytes in
                nfc_initiator_select_passive_target(pointer, modulation, bytes.baseAddress, bytes.count, &target)
            }
        } else {
            result = nfc_initiator_select_passive_target(pointer, modulation, nil, 0, &target)
        }
        if result < 0 { return .failed(result) }
        if result == 0 { return .none }
        var uidBytes = [UInt8](repeating: 0, count: 10)
        let length = uidBytes.withUnsafeMutableBufferPointer { out in
            withUnsafePointer(to: &target) { cnfc_target_uid($0, out.baseAddress) }
        }
        let sak = withUnsafePointer(to: &target) { cnfc_target_sak($0) }
        let atqa = withUnsafePointer(to: &target) { cnfc_target_atqa($0) }
        return .target(SelectedTarget(uid: Array(uidBytes.prefix(length)), sak: sak, atqa: atqa))
    }

    /// Sends `command` to the selected card (InDataExchange: the PN53x adds and checks the CRC).
    /// - Parameter timeoutMilliseconds: how long to wait for the reader's answer; always > 0,
    ///   so a silent reader cannot block the thread for ever.
    /// - Returns: the card's answer, or the libnfc error code.
    func transceive(_ command: [UInt8], maxAnswer: Int, timeoutMilliseconds: Int32) -> Result<[UInt8], NFCCallFailure> {
        var answer = [UInt8](repeating: 0, count: max(maxAnswer, 1))
        let timeout = max(timeoutMilliseconds, 1)
        let result = command.withUnsafeBufferPointer { tx in
            answer.withUnsafeMutableBufferPointer { rx in
                nfc_initiator_transceive_bytes(pointer, tx.baseAddress, tx.count, rx.baseAddress, rx.count, Int32(timeout))
            }
        }
        guard result >= 0 else { return .failure(NFCCallFailure(code: Int32(result))) }
        return .success(Array(answer.prefix(Int(result))))
    }

    /// Whether the last selected card is still in the field (`nfc_initiator_target_is_present`).
    /// - Returns: 0 when present, `NFC_ETGRELEASED` when it left, another code on failure.
    func selectedTargetIsPresent() -> Int32 {
        nfc_initiator_target_is_present(pointer, nil)
    }
}

/// A failed libnfc call, as its status code.
struct NFCCallFailure: Error, Equatable {
    var code: Int32
    var name: String { NFCStatus.name(code) }
}

/// A handle used from another thread for one thing only: `nfc_abort_command`.
///
/// `@unchecked Sendable` is sound because of how it is used, proven here:
/// - the handle is only ever stored in ``ReaderControl``'s `Mutex`, and `abort()` is only called
///   while that mutex is held;
/// - the owning reader thread removes the handle under the same mutex *before* it calls
///   `nfc_close`, so the pointer is never used after it is freed;
/// - `nfc_abort_command` is libnfc's one call meant to be made from another thread while a
///   command runs: for `pn532_uart` it only swaps the abort pipe that the pending `select()` waits on.
struct DeviceAbortHandle: @unchecked Sendable {
    fileprivate let pointer: OpaquePointer

    init(_ device: NFCDevice) { pointer = device.pointer }

    /// Asks libnfc to end the command now waiting for the reader's answer (if any).
    func abort() { _ = nfc_abort_command(pointer) }
}
