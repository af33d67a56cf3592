import Core
import Foundation
import FundqTestSupport
import MariaDBDriver
import Testing

/// MariaDB over TLS (`mysql://…?ssl-mode=verify-identity&ssl-ca=PATH`),
/// against a private mariadbd serving a certificate made by openssl.
@Suite("MariaDB over TLS", .serialized)
struct MariaDBTLSTests {
    /// The TLS version of the session `url` opens ("" when it is plain).
    static func sessionTLSVersion(_ url: String) throws -> String {
        let connection = MariaDBConnection(url: try DatabaseURL(parsing: url))
        let rows = try connection.query("SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS "
                                            + "WHERE VARIABLE_NAME = 'SSL_VERSION'", [])
        return rows.first?.first?.string ?? ""
    }

    static func url(_ server: MariaDBServer, host: String, user: String = "fundq", password: String = MariaDBServer.password,
                    _ query: String) -> String {
        "mysql://\(user):\(password)@\(host):\(server.port)/fundq?\(query)"
    }

    @Test func verifyIdentityConnectsByEitherNameInTheCertificateAndWorks() throws {
        let certificates = try TestCertificates()
        let server = try MariaDBServer(certificates: certificates)
        let dir = try TemporaryDirectory()
        for host in ["localhost", "127.0.0.1"] {
            let url = Self.url(server, host: host, "ssl-mode=verify-identity&ssl-ca=\(certificates.authority)")
            #expect(try Self.sessionTLSVersion(url).hasPrefix("TLSv1."), "\(host)")
            let flags = ["--db-url", url, "--data-dir", dir.path]
            let migrated = try FundqProcess.run(["db", "migrate"] + flags)
            #expect(migrated.status == 0, "\(migrated.stderr)")
            let status = try FundqProcess.run(["db", "status"] + flags)
            #expect(status.status == 0 && status.stdout.contains("ssl-mode=verify-identity"), "\(status.stdout) \(status.stderr)")
            #expect(!status.stdout.contains(MariaDBServer.password))
        }
        let flags = ["--db-url", Self.url(server, host: "127.0.0.1", "ssl-mode=verify-ca&ssl-ca=\(certificates.authority)"),
                     "--data-dir", dir.path]
        #expect(try FundqProcess.run(["queue", "push", "pending"] + flags,
                                     stdin: #"{"gateway":"paypal","order_id":"tls-1","date":1764000000}"#).status == 0)
        #expect(try FundqProcess.run(["consume", "pending"] + flags).status == 0)
        let listed = try FundqProcess.run(["pending", "list"] + flags)
        #expect(listed.status == 0 && listed.stdout.contains("tls-1"), "\(listed.stdout) \(listed.stderr)")
        // `required` encrypts without checking the certificate; the plain URL stays plain.
        #expect(try Self.sessionTLSVersion(Self.url(server, host: "127.0.0.1", "ssl-mode=required")).hasPrefix("TLSv1."))
        #expect(try Self.sessionTLSVersion(server.url) == "")
    }

    @Test func aCertificateFromAnotherAuthorityIsRefusedWhileConnecting() throws {
        let certificates = try TestCertificates()
        let server = try MariaDBServer(certificates: certificates)
        let dir = try TemporaryDirectory()
        for mode in ["verify-identity", "verify-ca"] {
            let url = Self.url(server, host: "localhost", "ssl-mode=\(mode)&ssl-ca=\(certificates.unrelatedAuthority)")
            let r = try FundqProcess.run(["db", "status", "--db-url", url, "--data-dir", dir.path])
            #expect(r.status == 1, "\(mode): \(r.stdout) \(r.stderr)")
            let expected = "cannot connect to MariaDB at localhost:\(server.port) (while connecting over TLS (ssl-mode=\(mode))"
            #expect(r.stderr.contains(expected), "\(r.stderr)")
            #expect(r.stderr.contains("TLS handshake or certificate check failed"), "\(r.stderr)")
            #expect(!r.stderr.contains(MariaDBServer.password) && !r.stdout.contains(MariaDBServer.password))
        }
    }

    @Test func aClientCertificateIsPresentedWhenGiven() throws {
        let certificates = try TestCertificates()
        let server = try MariaDBServer(certificates: certificates)
        try server.administer("CREATE USER 'x509'@'127.0.0.1' IDENTIFIED BY 'x509-pw' REQUIRE X509; "
                                + "GRANT ALL ON fundq.* TO 'x509'@'127.0.0.1';")
        let verify = "ssl-mode=verify-identity&ssl-ca=\(certificates.authority)"
        let without = Self.url(server, host: "127.0.0.1", user: "x509", password: "x509-pw", verify)
        #expect(throws: MariaDBError.self) { try Self.sessionTLSVersion(without) }
        let with = without + "&ssl-cert=\(certificates.clientCertificate)&ssl-key=\(certificates.clientKey)"
        #expect(try Self.sessionTLSVersion(with).hasPrefix("TLSv1."))
    }

    @Test func requiredAgainstAServerWithoutTLSFails() throws {
        let server = try MariaDBServer()
        let dir = try TemporaryDirectory()
        let r = try FundqProcess.run(["db", "status", "--db-url", Self.url(server, host: "127.0.0.1", "ssl-mode=required"),
                                      "--data-dir", dir.path])
        #expect(r.status == 1, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains("cannot connect to MariaDB at 127.0.0.1:\(server.port) (while connecting over TLS (ssl-mode=required)"),
                "\(r.stderr)")
        #expect(!r.stderr.contains(MariaDBServer.password))
    }

    @Test func tlsParametersAreCheckedAsUsage() throws {
        let certificates = try TestCertificates()
        let dir = try TemporaryDirectory()
        let base = "mysql://fundq:tls-secret-pw@127.0.0.1:3306/fundq?"
        let cases: [(String, String)] = [
            ("ssl-mode=verify-identity&ssl-ca=\(certificates.authority)&sslmode=x", "unknown parameter 'sslmode'"),
            ("ssl-mode=strict", "invalid ssl-mode 'strict'"),
            ("ssl-mode=verify-identity", "ssl-mode=verify-identity needs ssl-ca=PATH"),
            ("ssl-mode=required&ssl-ca=\(dir.file("none.pem"))", "the ssl-ca file \(dir.file("none.pem")) does not exist"),
            ("ssl-mode=required&ssl-cert=\(certificates.clientCertificate)", "ssl-cert and ssl-key go together"),
            ("ssl-mode=required&ssl-mode=required", "gives ssl-mode twice"),
            ("ssl-mode=disabled&ssl-ca=\(certificates.authority)", "gives ssl-ca with ssl-mode=disabled"),
        ]
        for (query, expected) in cases {
            let r = try FundqProcess.run(["db", "status", "--db-url", base + query, "--data-dir", dir.path])
            #expect(r.status == 2 && r.stderr.contains(expected), "\(query): \(r.stderr)")
            #expect(!r.stderr.contains("tls-secret-pw"))
        }
        let parsed = try DatabaseURL(parsing: base + "ssl-mode=VERIFY_CA&ssl-ca=\(certificates.authority)")
        #expect(parsed.tls == DatabaseTLS(mode: .verifyCA, certificateAuthority: certificates.authority))
        #expect(parsed.database == "fundq" && parsed.port == 3306)
        #expect(try DatabaseURL(parsing: base + "ssl-ca=\(certificates.authority)").tls?.mode == .verifyIdentity,
                "an ssl-ca alone checks the identity")
    }

    /// An '@' in a file path of the query once ended the credentials there:
    /// host `prod`, no TLS, the password swallowing the rest, and no error.
    @Test func anAtSignInAQueryPathIsPartOfThePathAndAmbiguousURLsAreRefused() throws {
        let certificates = try TestCertificates()
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("fundq@prod"), withIntermediateDirectories: true)
        let authority = dir.file("fundq@prod/ca.pem")
        try FileManager.default.copyItem(atPath: certificates.authority, toPath: authority)
        let parsed = try DatabaseURL(parsing: "mysql://fundq:s3cret@db.internal:3306/fundq?ssl-mode=verify-identity&ssl-ca=\(authority)")
        #expect(parsed.host == "db.internal" && parsed.port == 3306 && parsed.database == "fundq")
        #expect(parsed.password == "s3cret")
        #expect(parsed.tls == DatabaseTLS(mode: .verifyIdentity, certificateAuthority: authority))
        let odd = try DatabaseURL(parsing: "mysql://fundq:p?q@r@db.internal/fundq?ssl-mode=required")
        #expect(odd.password == "p?q@r" && odd.host == "db.internal" && odd.tls?.mode == .required)
        // A password holding '@' then '?' cannot be told from a query: an error, never a plain connection.
        let r = try FundqProcess.run(["db", "status", "--db-url", "mysql://fundq:pw@x?y@127.0.0.1/fundq?ssl-mode=required",
                                      "--data-dir", dir.path])
        #expect(r.status == 2, "\(r.stderr)")
        #expect(!r.stderr.contains("pw@x?y"))
    }
}
