import ArgumentParser
import Core

/// `--json` (one array) or `--json-lines` (one object per line, then a
/// summary line) for a listing.
struct ListingFormat: ParsableArguments {
    @Flag(help: "Print the result as JSON (one array).")
    var json = false

    @Flag(help: ArgumentHelp("Print JSON lines: one object per row with \"type\": \"row\", then one "
                             + "{\"type\": \"summary\", \"rows\": N, \"cut\": BOOL} line (cut: --limit left rows out)."))
    var jsonLines = false

    func validate() throws {
        if json && jsonLines { throw ValidationError("--json prints one array, --json-lines one line per row: choose one") }
    }

    /// Whether the output is JSON of either kind (else a table for people).
    var isJSON: Bool { json || jsonLines }

    /// Writes `rows` (JSON objects) as chosen; `cut` says whether a limit left rows out.
    func write(_ rows: [JSONValue], cut: Bool) throws {
        guard jsonLines else { return try Output.json(.array(rows)) }
        for row in rows {
            var members = row.objectValue ?? [:]
            members["type"] = .string("row")
            try Output.json(.object(members))
        }
        try Output.json(.object(["type": .string("summary"), "rows": Output.number(rows.count), "cut": .bool(cut)]))
    }
}
