public import CardModel
import Foundation
public import Logging

/// Writes a card's user memory at issuance: the NTAG21x in the reader's field gets the given
/// bytes from page 4 on, read back to verify, and optionally its lock bits set.
///
/// Every libnfc call runs on a thread made for the write; the device is locked (the same
/// lock as ``NFCReader``) for the write's duration, so it cannot run while a reader loop uses
/// the device. Logs name the tag only by ``ChipUID/masked``.
public struct TagWriter: Sendable {
    /// The libnfc connstring; nil: the first reader libnfc finds.
    public var connstring: String?
    /// Where the device lock file lives (shared with ``NFCReader``).
    public var lockDirectory: String
    /// How long to wait for a tag to be placed on the reader.
    public var tagWait: Duration
    /// How long to wait for the reader's answer to one command.
    public var commandTimeout: Duration
    private let logger: Logger

    /// Creates a writer; nothing is opened until ``write(userMemory:lock:)``.
    public init(
        connstring: String?, lockDirectory: String, logger: Logger,
        tagWait: Duration = .seconds(10), commandTimeout: Duration = .milliseconds(350)
    ) {
        self.connstring = connstring
        self.lockDirectory = lockDirectory
        self.logger = logger
        self.tagWait = tagWait
        self.commandTimeout = commandTimeout
    }

    /// Writes `userMemory` from page 4 on the NTAG21x in the field and reads it back.
    ///
    /// The same as ``write(lock:userMemory:)`` with bytes that do not depend on the tag.
    public func write(userMemory: [UInt8], lock: Bool = false) async throws(TagWriteError) -> WrittenTag {
        try await write(lock: lock) { _, _ in userMemory }
    }

    /// Waits for a tag, identifies it, asks `userMemory` for the bytes to write to *that* tag (a
    /// CUS record is signed for the chip's UID), writes them from page 4 and reads them back.
    ///
    /// The bytes are padded with zeros to whole 4-byte pages (0x00 is the NULL TLV). With `lock`,
    /// the dynamic lock bytes and then the static lock bytes (page 2) are set afterwards: the tag
    /// becomes read-only for good. Checks before anything is written: an NTAG213/215/216, not
    /// locked, large enough.
    /// - Parameters:
    ///   - lock: set the lock bits after a verified write.
    ///   - userMemory: called once, on the writer's thread, with the tag's UID and type; throw a
    ///     ``TagWriteError`` (e.g. `.notNTAG`, `.tooSmall`) to refuse the tag.
    /// - Returns: the tag written.
    /// - Throws: ``TagWriteError`` saying what to do next: no reader, reader in use, no tag,
    ///   not an NTAG21x, too small, already locked, write refused, torn (tag moved mid-write),
    ///   read-back mismatch, cancelled; or what `userMemory` threw.
    public func write(
        lock: Bool = false,
        userMemory: @escaping @Sendable (ChipUID, CardTechnology) throws(TagWriteError) -> [UInt8]
    ) async throws(TagWriteError) -> WrittenTag {
        let control = ReaderControl()
        let job = TagWriteJob(
            connstring: connstring, lockDirectory: lockDirectory, tagWait: tagWait,
            timeout: commandTimeout.wholeMilliseconds, logger: logger, control: control,
            content: userMemory, lock: lock
        )
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<WrittenTag, TagWriteError>, Never>) in
                let thread = Thread {
                    continuation.resume(returning: job.perform())
                    control.markFinished()
                }
                thread.name = "nfc-tag-writer"
                thread.start()
            }
        } onCancel: {
            control.cancel()
        }
        return try result.get()
    }
}

/// A tag written by ``TagWriter``.
public struct WrittenTag: Sendable, Equatable {
    /// The tag's UID (log it as ``ChipUID/masked``).
    public var uid: ChipUID
    /// `ntag213`, `ntag215` or `ntag216`.
    public var technology: CardTechnology
    /// Pages written from page 4.
    public var pagesWritten: Int
    /// Whether the lock bits were set.
    public var locked: Bool

    /// Creates a description.
    public init(uid: ChipUID, technology: CardTechnology, pagesWritten: Int, locked: Bool) {
        self.uid = uid
        self.technology = technology
        self.pagesWritten = pagesWritten
        self.locked = locked
    }
}

/// Why a tag could not be written. The message says what to do next.
public struct TagWriteError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for callers to match on.
    public enum Code: String, Sendable, Equatable {
        /// No bytes were given.
        case nothingToWrite
        /// No reader could be found or opened, or it failed while writing.
        case readerUnavailable
        /// Another process (or a running reader loop) holds the reader.
        case deviceInUse
        /// No tag was placed on the reader in time.
        case noTag
        /// The tag is not an NTAG213/215/216.
        case notNTAG
        /// The data needs more pages than the tag has.
        case tooSmall
        /// The tag's lock bits or capability container make it read-only.
        case alreadyLocked
        /// The tag refused the first write.
        case writeFailed
        /// Some pages were written, then the tag stopped answering (moved away).
        case torn
        /// A page read back differs from what was written.
        case verifyFailed
        /// The write was cancelled before it began writing.
        case cancelled
    }

    /// What went wrong.
    public var code: Code
    /// A sentence for the operator: what happened and what to do.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The message.
    public var description: String { message }
}

/// One write, performed on its own thread.
private struct TagWriteJob: Sendable {
    let connstring: String?
    let lockDirectory: String
    let tagWait: Duration
    let timeout: Int32
    let logger: Logger
    let control: ReaderControl
    let content: @Sendable (ChipUID, CardTechnology) throws(TagWriteError) -> [UInt8]
    let lock: Bool

    func perform() -> Result<WrittenTag, TagWriteError> {
        do throws(TagWriteError) {
            return .success(try performThrowing())
        } catch {
            logger.warning("tag write failed", metadata: ["code": "\(error.code.rawValue)"])
            return .failure(error)
        }
    }

    private func performThrowing() throws(TagWriteError) -> WrittenTag {
        guard let context = NFCContext() else {
            throw TagWriteError(code: .readerUnavailable, message: "libnfc could not start: check that libnfc6 is installed")
        }
        guard let connstring = connstring ?? context.firstConnstring() else {
            throw TagWriteError(code: .readerUnavailable, message: "no NFC reader found: plug one in, or give its connstring")
        }
        let deviceLock: DeviceLock
        do {
            deviceLock = try DeviceLock.acquire(connstring: connstring, in: lockDirectory)
        } catch {
            throw TagWriteError(code: error.code == .deviceInUse ? .deviceInUse : .readerUnavailable, message: error.message)
        }
        defer { deviceLock.release() }
        guard let device = context.open(connstring) else {
            throw TagWriteError(code: .readerUnavailable, message: "cannot open reader \(connstring): check its cable and power, then try again")
        }
        control.setAbortHandle(DeviceAbortHandle(device))
        defer {
            control.setAbortHandle(nil)
            device.close()
        }
        let configured = control.tracked { device.configureAsInitiator() }
        guard configured >= 0 else {
            throw TagWriteError(
                code: .readerUnavailable,
                message: "reader \(connstring) refused initiator mode (\(NFCStatus.name(configured))): unplug and replug it, then try again")
        }
        let target = try waitForTag(device)
        guard target.sak == 0, target.uid.count == 7, let uid = try? ChipUID(bytes: target.uid) else {
            throw TagWriteError(code: .notNTAG, message: "the tag on the reader is not an NTAG213/215/216 (SAK \(target.sak), \(target.uid.count)-byte UID): use a CUS NTAG card")
        }
        let tag = Type2Tag(device: device, timeout: timeout, control: control)
        let profile = try identify(tag)
        let data = try content(uid, profile.technology)
        guard !data.isEmpty else {
            throw TagWriteError(code: .nothingToWrite, message: "nothing to write: give the bytes for page 4 on")
        }
        let pageCount = (data.count + 3) / 4
        let capacityPages = profile.lastUserPage - Type2Tag.firstUserPage + 1
        guard pageCount <= capacityPages else {
            throw TagWriteError(
                code: .tooSmall,
                message: "the data needs \(pageCount * 4) bytes but this \(profile.technology.rawValue) holds \(capacityPages * 4): use a larger tag (NTAG215/216)")
        }
        try checkNotLocked(tag, profile: profile)
        guard !control.isCancelled else { throw TagWriteError(code: .cancelled, message: "the write was cancelled before anything was written") }

        let padded = data + [UInt8](repeating: 0, count: pageCount * 4 - data.count)
        for index in 0..<pageCount {
            let page = Type2Tag.firstUserPage + index
            if case .failure(let failure) = tag.write(page: page, padded[index * 4..<index * 4 + 4]) {
                if index == 0 {
                    throw TagWriteError(code: .writeFailed, message: "the tag refused the write (\(failure.name)): hold it still on the reader and try again; if it repeats, the tag may be write-protected")
                }
                throw TagWriteError(code: .torn, message: "the write was torn after \(index) of \(pageCount) pages (\(failure.name)): the tag moved; hold it still on the reader and write it again")
            }
        }
        try verify(tag, padded: padded)
        if lock { try setLockBits(tag, profile: profile) }
        logger.info("tag written", metadata: [
            "uid": "\(uid.masked)", "technology": "\(profile.technology.rawValue)", "pages": "\(pageCount)", "locked": "\(lock)",
        ])
        return WrittenTag(uid: uid, technology: profile.technology, pagesWritten: pageCount, locked: lock)
    }

    private func waitForTag(_ device: NFCDevice) throws(TagWriteError) -> SelectedTarget {
        let deadline = ContinuousClock.now + tagWait
        var failures = 0
        while ContinuousClock.now < deadline {
            guard !control.isCancelled else { throw TagWriteError(code: .cancelled, message: "the write was cancelled while waiting for a tag") }
            switch control.tracked({ device.selectISO14443A() }) {
            case .target(let target):
                return target
            case .none:
                failures = 0
                Thread.sleep(forTimeInterval: 0.05)
            case .failed(let code):
                failures += 1
                guard failures < 3 else {
                    throw TagWriteError(code: .readerUnavailable, message: "the reader failed while looking for a tag (\(NFCStatus.name(code))): check it and try again")
                }
                Thread.sleep(forTimeInterval: 0.1)  // never retry at once after a failure
            }
        }
        throw TagWriteError(code: .noTag, message: "no tag on the reader: place the card on it and try again")
    }

    private func identify(_ tag: Type2Tag) throws(TagWriteError) -> TagProfile {
        switch tag.version() {
        case .success(let version):
            guard let profile = TagProfile(version: version), profile.dynamicLockPage != nil else {
                throw TagWriteError(code: .notNTAG, message: "the tag is not an NTAG213/215/216 (GET_VERSION \(version.map { String($0, radix: 16) })): use a CUS NTAG card")
            }
            return profile
        case .failure(let failure):
            throw TagWriteError(code: .notNTAG, message: "the tag did not answer GET_VERSION (\(failure.name)): it is not an NTAG21x, or it moved; use a CUS NTAG card and hold it still")
        }
    }

    private func readPages(_ tag: Type2Tag, from page: Int) throws(TagWriteError) -> [UInt8] {
        switch tag.read(page: page) {
        case .success(let bytes): return bytes
        case .failure(let failure):
            throw TagWriteError(code: .torn, message: "reading page \(page) failed (\(failure.name)): the tag moved; hold it still and try again")
        }
    }

    private func checkNotLocked(_ tag: Type2Tag, profile: TagProfile) throws(TagWriteError) {
        let header = try readPages(tag, from: 2)  // pages 2 (lock bytes 2-3) and 3 (CC)
        let staticLocked = header[2] != 0 || header[3] != 0
        let ccReadOnly = header[4] == 0xE1 && header[7] & 0x0F != 0  // CC write-access nibble: 0 = granted
        var dynamicLocked = false
        if let page = profile.dynamicLockPage {
            let dynamic = try readPages(tag, from: page)
            dynamicLocked = dynamic[0] != 0 || dynamic[1] != 0 || dynamic[2] != 0
        }
        guard !(staticLocked || dynamicLocked || ccReadOnly) else {
            throw TagWriteError(code: .alreadyLocked, message: "the tag is already locked (read-only): it cannot be written again; issue a new card")
        }
    }

    private func verify(_ tag: Type2Tag, padded: [UInt8]) throws(TagWriteError) {
        var offset = 0
        while offset < padded.count {
            let page = Type2Tag.firstUserPage + offset / 4
            let bytes = try readPages(tag, from: page)
            let count = min(16, padded.count - offset)
            guard Array(bytes.prefix(count)) == Array(padded[offset..<offset + count]) else {
                throw TagWriteError(code: .verifyFailed, message: "page \(page) reads back different from what was written: write the tag again; if it repeats, discard the tag")
            }
            offset += count
        }
    }

    private func setLockBits(_ tag: Type2Tag, profile: TagProfile) throws(TagWriteError) {
        if let page = profile.dynamicLockPage {
            let current = try readPages(tag, from: page)
            if case .failure(let failure) = tag.write(page: page, [0xFF, 0xFF, 0xFF, current[3]]) {
                throw TagWriteError(code: .torn, message: "the data was written but setting the dynamic lock bits failed (\(failure.name)): place the tag again and lock it")
            }
        }
        let header = try readPages(tag, from: 2)
        if case .failure(let failure) = tag.write(page: 2, [header[0], header[1], 0xFF, 0xFF]) {
            throw TagWriteError(code: .torn, message: "the data was written but setting the static lock bits failed (\(failure.name)): place the tag again and lock it")
        }
        let check = try readPages(tag, from: 2)
        guard check[2] == 0xFF, check[3] == 0xFF else {
            throw TagWriteError(code: .verifyFailed, message: "the lock bits did not stick (page 2 reads \(String(check[2], radix: 16)) \(String(check[3], radix: 16))): discard the tag")
        }
    }
}
