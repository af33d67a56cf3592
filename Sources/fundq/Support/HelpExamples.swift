import ArgumentParser

/// Examples shown at the end of each command's `--help`, by command path
/// (`GATEWAY` and `NAME` stand for a processor's gateway and name: see
/// `fundq processor list`).
enum HelpExamples {
    static let examples: [String: [String]] = [
        "fundq": ["fundq queue stats", "fundq consume pending --daemon --log-format logfmt", "fundq rectify --dry-run"],
        "fundq queue": ["fundq queue stats --json", "fundq queue push donations --lines < donations.jsonl"],
        "fundq queue push": ["fundq queue push donations donation.json", "fundq queue push pending --lines --json < batch.jsonl"],
        "fundq queue pop": [
            "fundq queue pop crm --exec ./book.sh --lease 2m --retry-after 10m",
            "fundq queue pop crm --wait --idle-timeout 30s",
        ],
        "fundq queue peek": ["fundq queue peek donations", "fundq queue peek pending --json --show-personal-data"],
        "fundq queue stats": ["fundq queue stats", "fundq queue stats donations --json --queue-url redis://queues:6379/0"],
        "fundq consume": [
            "fundq consume pending --daemon",
            "fundq consume donations --limit 1000 --json",
            "fundq consume tracking --time-limit 10m -v",
        ],
        "fundq pending": ["fundq pending list --older-than 1h", "fundq pending show GATEWAY 1234.1"],
        "fundq pending list": [
            "fundq pending list --gateway GATEWAY --older-than 6h",
            "fundq pending list --needs-review --json",
            "fundq pending list --all --limit 1000",
        ],
        "fundq pending show": ["fundq pending show GATEWAY 1234.1", "fundq pending show GATEWAY 5678 --show-personal-data"],
        "fundq damaged": ["fundq damaged list --queue donations", "fundq damaged show 42"],
        "fundq damaged list": ["fundq damaged list --queue donations --limit 20", "fundq damaged list --json"],
        "fundq damaged show": ["fundq damaged show 42", "fundq damaged show 42 --json --show-personal-data"],
        "fundq rectify": [
            "fundq rectify --dry-run --processor NAME",
            "fundq rectify --daemon --interval 5m",
            "fundq rectify log --since 1h",
        ],
        "fundq rectify run": ["fundq rectify run --dry-run --limit 50", "fundq rectify run --daemon --interval 5m --workers 8"],
        "fundq rectify log": ["fundq rectify log --since 6h", "fundq rectify log --order 1234.1 --json"],
        "fundq processor": ["fundq processor list", "fundq processor NAME status PAYMENT-ID --json", "fundq processor check --all"],
        "fundq db": ["fundq db status", "fundq db migrate --db-url mysql://fundq@db:3306/fundq"],
        "fundq db status": ["fundq db status", "FUNDQ_DB_URL_FILE=/run/secrets/db-url fundq db status"],
        "fundq db migrate": ["fundq db migrate", "fundq db migrate --db-url mysql://fundq@db:3306/fundq"],
        "fundq jobs": ["fundq jobs requeue-damaged --daemon --interval 1m", "fundq jobs expire-pending --days 30"],
        "fundq tracking": ["fundq tracking list --since 1h", "fundq tracking show 12345 --json"],
        "fundq tracking list": ["fundq tracking list --since 2h --utm-campaign spring", "fundq tracking list --json --limit 500"],
        "fundq tracking show": ["fundq tracking show 12345", "fundq tracking show 12345 --json"],
        "fundq impressions": ["fundq impressions report --since 2h", "fundq impressions rejects"],
        "fundq impressions report": ["fundq impressions report --since 90m --banner B26_1201_en", "fundq impressions report --json"],
    ]

    /// The help text's ending for `path` ("fundq queue stats"): its examples,
    /// and for `rectify` (which runs `rectify run`) the run's options.
    static func epilogue(for path: String) -> String {
        var text = ""
        if path == "fundq rectify" {
            text += "\n`fundq rectify` alone runs `fundq rectify run`:\n\n" + Fundq.helpMessage(for: RectifyRunCommand.self) + "\n"
        }
        guard let lines = examples[path] else { return text }
        return text + "\nEXAMPLES:\n" + lines.map { "  \($0)\n" }.joined()
    }
}
