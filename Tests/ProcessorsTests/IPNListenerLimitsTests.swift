import Core
import CurlHTTP
import Foundation
import FundqTestSupport
import Sandbox
import Testing

/// `fundq ipn` as a real child process under hostile clients: malformed and
/// oversized requests, slow and idle clients, 500 connections at once, and
/// more connections than it has file descriptors. No durations are asserted:
/// each test waits for a condition with a generous timeout.
@Suite("IPN listener limits")
struct IPNListenerLimitsTests {
    /// The processor whose notifications the listener serves.
    static let processor = "paypal-recurring"

    /// Sends `request` on a fresh connection and returns the answer and whether the server then closed.
    func exchange(_ port: Int, _ request: String) throws -> (status: Int?, closed: Bool) {
        let c = try RawHTTPConnection(port: port)
        try? c.send(request)  // the server may answer and close before an oversized request is all sent
        let answer = c.answer()
        return (answer?.status, c.closedByServer())
    }

    @Test func everyRefusalIsAnsweredWithItsStatusThenClosed() throws {
        let l = try NotificationListener.start(processor: Self.processor)
        #expect(l.serves())
        let hugeHeader = "GET /ipn HTTP/1.1\r\nHost: x\r\nX-Padding: \(String(repeating: "a", count: 70_000))\r\n\r\n"
        let cases: [(String, String, Int)] = [
            ("70 KB header", hugeHeader, 400),  // Hummingbird answers a head beyond --max-header-bytes 400 (NIO's decoder error)
            ("100 MB body announced, not sent", "POST /ipn HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", 413),
            ("negative length", "POST /ipn HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\nab=cd", 400),
            ("garbage length", "GET /ipn HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n", 400),
            ("two lengths", "POST /ipn HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nab=cd", 400),
            ("not HTTP", "HELLO\r\n\r\n", 400),
        ]
        for (name, request, status) in cases {
            let (answered, closed) = try exchange(l.port, request)
            #expect(answered == status, "\(name)")
            #expect(closed, "\(name): the connection is closed after a refusal")
        }
        // Keep-alive still works for well-formed requests, and the listener still serves.
        let c = try RawHTTPConnection(port: l.port)
        try c.send("GET /ipn HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(c.answer()?.status == 405)
        try c.send("GET /ipn HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(c.closedByServer())
        #expect(try l.acceptsAGenuineNotification("T-LIMITS-1"))
        // A chunked body is read whole: a genuine notification sent in two chunks is verified and answered 200.
        let body = l.fixture.sandbox.issueIPN([("txn_type", "web_accept"), ("txn_id", "T-CHUNKED-1"), ("mc_gross", "5.00"),
                                               ("mc_currency", "EUR"), ("payment_status", "Completed")])
        let half = body.count / 2
        let chunked = try RawHTTPConnection(port: l.port)
        var request: [UInt8] = Array("POST /ipn HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for part in [body[..<half], body[half...]] {
            request += Array("\(String(part.count, radix: 16))\r\n".utf8)
            request += part
            request += Array("\r\n".utf8)
        }
        request += Array("0\r\n\r\n".utf8)
        try chunked.send(request)
        #expect(chunked.answer()?.status == 200)
        l.process.send(SIGTERM)
        let r = l.process.wait()
        #expect(r.status == 0)
        // The access log: one line per answered request, method, path and status.
        for line in ["GET /ipn 405", "POST /ipn 413", "POST /ipn 200"] { #expect(r.stderr.contains(line), "access log: \(line)") }
    }

    @Test func aSlowClientIsAnswered408AnIdleOneIsClosedAndNeitherHoldsUpOthers() throws {
        let l = try NotificationListener.start(processor: Self.processor, ["--request-timeout", "1s", "--idle-timeout", "1s"])
        #expect(l.serves())
        let idle = try RawHTTPConnection(port: l.port)
        let slow = try RawHTTPConnection(port: l.port)
        try slow.send("POST /ipn HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        // One byte at a time, for as long as the server lets it (at most a minute).
        let deadline = Date().addingTimeInterval(60)
        var sent = 0
        while !slow.heardAnything, Date() < deadline, sent < 999 {
            guard (try? slow.send("a")) != nil else { break }
            sent += 1
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(slow.answer()?.status == 408)
        #expect(slow.closedByServer())
        #expect(idle.closedByServer(), "an idle connection is closed")
        #expect(idle.answer(timeout: 0) == nil, "quietly, without an answer")
        #expect(try l.acceptsAGenuineNotification("T-SLOW-1"))
        l.process.send(SIGTERM)
        #expect(l.process.wait().status == 0)
    }

    /// A slow-loris client: its request header arrives one byte per second,
    /// so it never completes. The read timeout cuts it while a genuine
    /// notification on another connection is answered 200.
    @Test func aHeaderSentOneBytePerSecondIsCutByTheReadTimeoutWhileOthersAreServed() throws {
        let l = try NotificationListener.start(processor: Self.processor, ["--request-timeout", "20s", "--idle-timeout", "20s"])
        #expect(l.serves())
        let slow = try RawHTTPConnection(port: l.port)
        let header = Array("POST /ipn HTTP/1.1\r\nHost: x\r\nX-Slow: \(String(repeating: "a", count: 200))\r\n".utf8)
        var sent = 0
        var servedMeanwhile: Bool?
        var slowOpenWhenServed = false
        let deadline = Date().addingTimeInterval(180)
        while !slow.heardAnything, Date() < deadline, sent < header.count {
            guard (try? slow.send([header[sent]])) != nil else { break }
            sent += 1
            if sent == 2 {  // the slow request has begun: another client is served meanwhile
                servedMeanwhile = try l.acceptsAGenuineNotification("T-SLOWLORIS-1")
                slowOpenWhenServed = !slow.heardAnything
            }
            Thread.sleep(forTimeInterval: 1)
        }
        #expect(servedMeanwhile == true, "a genuine notification is answered 200 while the slow header trickles in")
        #expect(slowOpenWhenServed, "the slow client was still connected, unanswered, when the other was served")
        #expect(sent < header.count, "the header was cut before it was complete (\(sent) of \(header.count) bytes sent)")
        // A head that never completes is cut by the timeout on waiting for a head (--idle-timeout): closed, at most with a 408.
        let answer = slow.answer()
        #expect(answer == nil || answer?.status == 408, "answer: \(String(describing: answer?.status))")
        #expect(slow.closedByServer())
        #expect(l.process.process.isRunning)
        #expect(try l.acceptsAGenuineNotification("T-SLOWLORIS-2"))
        l.process.send(SIGTERM)
        #expect(l.process.wait().status == 0)
    }

    /// 500 clients connect at once and stay: Hummingbird serves them on its
    /// event loops, so the listener's threads do not grow with them, its
    /// memory stays bounded, and a genuine notification is answered meanwhile.
    @Test func fiveHundredConnectionsAtOnceAreBoundedAndTheListenerServesAfterwards() throws {
        let l = try NotificationListener.start(processor: Self.processor,
                                               ["--max-connections", "1000", "--request-timeout", "10m", "--idle-timeout", "10m"])
        #expect(l.serves())
        let baselineThreads = try #require(l.process.threadCount)
        let baselineKiB = try #require(l.process.residentKiB)
        var files = rlimit()  // this test process holds 500 sockets too: lift a low soft limit (CI machines often have 1024)
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files) == 0, files.rlim_cur < 4096 {
            files.rlim_cur = min(files.rlim_max, 4096)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        }
        var connections = try (0..<500).map { _ in try RawHTTPConnection(port: l.port) }
        // Each sends the start of a request and stops: 500 requests in progress at once.
        for c in connections { try c.send("POST /ipn HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab") }
        #expect(eventually(timeout: 120, poll: 0.5) { (l.process.openFileDescriptors ?? 0) >= 500 }, "all 500 accepted")
        #expect(try l.acceptsAGenuineNotification("T-CROWD-0"), "served while 500 requests are in progress")
        let threads = try #require(l.process.threadCount)
        #expect(threads <= baselineThreads + 16, "threads: \(baselineThreads) before, \(threads) with 500 connections")
        // Memory bounded too: 500 open connections cost far less than 256 MiB (a generous bound, not a measurement).
        let residentKiB = try #require(l.process.residentKiB)
        #expect(residentKiB <= baselineKiB + 262_144, "resident memory: \(baselineKiB) KiB before, \(residentKiB) KiB with 500 connections")
        #expect(connections.allSatisfy { !$0.heardAnything }, "no request was answered before its body arrived")
        connections.removeAll()  // everyone leaves
        #expect(l.serves(), "the listener serves once the crowd has gone")
        #expect(try l.acceptsAGenuineNotification("T-CROWD-1"))
        l.process.send(SIGTERM)
        #expect(l.process.wait().status == 0)
    }

    /// Beyond --max-connections a client waits to be accepted; it is served once a held connection closes.
    @Test func beyondTheConnectionCapAClientWaitsUntilOneCloses() throws {
        let l = try NotificationListener.start(processor: Self.processor,
                                               ["--max-connections", "2", "--request-timeout", "10m", "--idle-timeout", "10m"])
        #expect(l.serves())
        var held = try (0..<2).map { _ in try RawHTTPConnection(port: l.port) }
        for c in held {  // each is accepted and answered, then kept open (keep-alive)
            try c.send("GET /ipn HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(c.answer()?.status == 405)
        }
        let waiting = try RawHTTPConnection(port: l.port)  // the kernel completes the handshake; the listener does not accept it yet
        try waiting.send("GET /ipn HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(waiting.answer(timeout: 3) == nil, "not served while two connections are held")
        held.removeFirst()
        #expect(waiting.answer()?.status == 405, "served once a held connection closed")
        held.removeAll()
        l.process.send(SIGTERM)
        #expect(l.process.wait().status == 0)
    }

    @Test func limitsOutOfRangeAreRefusedAtStart() throws {
        let cap = try FundqProcess.run(["ipn", "--port", "0", "--max-connections", "0"])
        #expect(cap.status != 0 && cap.stderr.contains("--max-connections must be between 1 and 100000"), "\(cap.stderr)")
        let timeout = try FundqProcess.run(["ipn", "--port", "0", "--request-timeout", "0s"])
        #expect(timeout.status != 0, "\(timeout.stderr)")
        #expect(timeout.stderr.contains("--request-timeout and --idle-timeout must be at least 0.1s"))
    }

    @Test func aProcessorThatDeclaresNoNotificationsOrAnUnknownOneIsAUsageError() throws {
        let none = try FundqProcess.run(["ipn", "--port", "0", "--processor", "globalcollect"])
        #expect(none.status == 2, "\(none.stderr)")
        #expect(none.stderr.contains("processor 'globalcollect' declares no notifications (those that do: "), "\(none.stderr)")
        let unknown = try FundqProcess.run(["ipn", "--port", "0", "--processor", "nope"])
        #expect(unknown.status == 2 && unknown.stderr.contains("no processor called 'nope'"), "\(unknown.stderr)")
    }

    @Test func outOfFileDescriptorsTheListenerStaysUpAndAcceptsAgainOnceSomeAreFree() throws {
        let l = try NotificationListener.start(processor: Self.processor,
                                               ["--max-connections", "1000", "--request-timeout", "10m", "--idle-timeout", "10m"],
                                               fileDescriptorLimit: 64)
        // The descriptors are taken the moment the port accepts, not after a first answer: a listener that
        // still needed one to finish starting (it registered its heartbeat after listening) exited with status 1.
        var connections: [RawHTTPConnection] = []
        #expect(eventually(timeout: 60, poll: 0.001) { (try? RawHTTPConnection(port: l.port)).map { connections.append($0) } != nil })
        connections += try (0..<100).map { _ in try RawHTTPConnection(port: l.port) }
        let stderr = { l.process.standardErrorSoFar }
        #expect(eventually(timeout: 60, poll: 0.1) { (l.process.openFileDescriptors ?? 0) >= 60 }, "descriptors run out: \(stderr())")
        #expect(l.process.process.isRunning, "\(stderr())")
        connections.removeAll()  // closes all 101
        #expect(l.serves(), "accepting resumed once descriptors were free: \(stderr())")
        l.process.send(SIGTERM)
        let end = l.process.wait()
        #expect(end.status == 0, "\(end.stderr)")
    }
}

extension NotificationListener {
    /// Waits until a GET is answered 405 (the listener serves).
    func serves(timeout: Double = 60) -> Bool {
        eventually(timeout: timeout, poll: 0.1) {
            guard let c = try? RawHTTPConnection(port: port),
                  (try? c.send("GET /ipn HTTP/1.1\r\nHost: x\r\n\r\n")) != nil else { return false }
            return c.answer(timeout: 10)?.status == 405
        }
    }

    /// A genuine notification is verified, pushed and answered 200.
    func acceptsAGenuineNotification(_ id: String) throws -> Bool {
        let body = fixture.sandbox.issueIPN([("txn_type", "web_accept"), ("txn_id", id), ("mc_gross", "5.00"), ("mc_currency", "EUR"),
                                             ("payment_status", "Completed")])
        let client = try HTTPClient()
        return try client.send(HTTPRequest(url: url, body: body)).status == 200
    }
}
