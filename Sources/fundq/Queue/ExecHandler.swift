import Core
import Foundation

/// Runs a shell command per message, the message on its standard input.
///
/// The command is started with `posix_spawn`: in its own process group
/// (so a timeout kills everything it started), with SIGPIPE, SIGTERM and
/// SIGINT back at their default actions (fundq itself ignores them, and an
/// ignored signal would otherwise stay ignored in the child), and with a
/// time limit shorter than the message's lease.
struct ExecHandler {
    /// The command, run with `/bin/sh -c`.
    let command: String
    /// Delay before a temporarily failed message (exit 75, killed, timed out) is requeued.
    let retryAfter: Duration
    /// Longest a command may run on one message.
    let timeout: Duration

    /// The command failed; the message is damaged with this as the reason.
    struct CommandFailed: Error, CustomStringConvertible {
        let command: String
        let how: String
        let stderr: String
        var description: String {
            let detail = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            return "command '\(command)' \(how)" + (detail.isEmpty ? "" : ": \(detail)")
        }
    }

    /// A failure worth retrying later: exit 75 (EX_TEMPFAIL), killed by a
    /// signal, or timed out.
    struct CommandTemporaryFailure: RetryableError, CustomStringConvertible {
        let failure: CommandFailed
        let retryAfter: Duration
        var description: String { failure.description + " (temporary failure, will be retried)" }
    }

    func handle(_ message: DeliveredMessage) throws {
        let errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("fundq-exec-\(UUID().uuidString).err").path
        defer { unlink(errorPath) }
        var environment = ProcessInfo.processInfo.environment
        environment["FUNDQ_QUEUE"] = message.queue
        environment["FUNDQ_MESSAGE_ID"] = message.receipt.id
        environment["FUNDQ_DELIVERY"] = String(message.deliveries)

        let outcome: ChildOutcome
        do {
            outcome = try ChildProcess.run(["/bin/sh", "-c", command], environment: environment, stdin: message.body,
                                           stderrPath: errorPath, timeout: timeout)
        } catch {
            // A local problem (no temp space, fork failed): not the message's fault.
            throw ConsumerStop("cannot run '\(command)': \(error)")
        }
        let stderr = ChildProcess.tail(of: errorPath, bytes: 4000)
        switch outcome {
        case .exited(0):
            return
        case .exited(let status) where status == 126 || status == 127:
            // The command is missing or not executable: an operator's mistake,
            // not the message's; stop before the whole queue is damaged.
            throw ConsumerStop("command '\(command)' cannot run (exit \(status)): "
                + "\(stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        case .exited(75):
            throw CommandTemporaryFailure(failure: CommandFailed(command: command, how: "exited with status 75", stderr: stderr),
                                          retryAfter: retryAfter)
        case .exited(let status):
            throw CommandFailed(command: command, how: "exited with status \(status)", stderr: stderr)
        case .signalled(let signal):
            throw CommandTemporaryFailure(failure: CommandFailed(command: command, how: "was killed by signal \(signal)", stderr: stderr),
                                          retryAfter: retryAfter)
        case .timedOut:
            throw CommandTemporaryFailure(
                failure: CommandFailed(command: command, how: "did not finish within \(Int(timeout.seconds)) s and was killed",
                                       stderr: stderr),
                retryAfter: retryAfter)
        }
    }
}

/// How a child process ended.
enum ChildOutcome: Equatable {
    case exited(Int32)
    case signalled(Int32)
    case timedOut
}

/// A failure to start a child process.
struct SpawnError: Error, CustomStringConvertible {
    let description: String
}

/// `posix_spawn` with the settings ``ExecHandler`` needs.
enum ChildProcess {
    static func run(_ arguments: [String], environment: [String: String], stdin input: [UInt8], stderrPath: String,
                    timeout: Duration) throws -> ChildOutcome {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        var writeOpen = true
        defer {
            if writeOpen { close(writeEnd) }
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, 0)
        posix_spawn_file_actions_addclose(&actions, readEnd)
        posix_spawn_file_actions_addclose(&actions, writeEnd)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Nothing else of fundq's is inherited: an open database, Redis
        // socket or a parent's pipe held by a long-running command would
        // outlive fundq.
        for fd in inheritedDescriptors() where fd != readEnd && fd != writeEnd {
            posix_spawn_file_actions_addclose(&actions, fd)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        close(readEnd)
        guard rc == 0 else { throw SpawnError(description: "posix_spawn: \(String(cString: strerror(rc)))") }

        // Feed stdin without blocking, watching for exit and the deadline.
        _ = fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK)
        var written = 0
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var status: Int32 = 0
        while true {
            if writeOpen {
                if written < input.count {
                    let n = input.withUnsafeBytes { raw in write(writeEnd, raw.baseAddress! + written, input.count - written) }
                    if n > 0 { written += n } else if n < 0 && errno != EAGAIN && errno != EINTR { written = input.count }
                }
                if written >= input.count {
                    close(writeEnd)  // EOF for the command; EPIPE above just means it did not read everything
                    writeOpen = false
                }
            }
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            if clock.now >= deadline {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                return .timedOut
            }
            usleep(writeOpen ? 200 : 2_000)
        }
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// This process's open descriptors above 2 (from /proc/self/fd).
    static func inheritedDescriptors() -> [Int32] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        // The listing's own descriptor is closed again by now: keep only open ones.
        return names.compactMap { Int32($0) }.filter { $0 > 2 && fcntl($0, F_GETFD) != -1 }
    }

    /// The last `bytes` bytes of the file at `path`, as text.
    static func tail(of path: String, bytes: Int) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(bytes) ? size - UInt64(bytes) : 0)
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }
}
