using System.Globalization;
using System.Text.Json;
using Rank1.SearchBridge.Cli.CommandLine;

namespace Rank1.SearchBridge.Cli.Commands;

/// <summary>One passage of a JSON Lines file: <c>{"id":..,"title":..,"text":..}</c>.</summary>
internal sealed record PassageRecord(string Id, string? Title, string Text);

internal static class PassageFile
{
    /// <summary>Reads JSON Lines passages; a bad line is a <see cref="CliException"/> naming file and line.</summary>
    public static async Task<IReadOnlyList<PassageRecord>> ReadAsync(string path, CancellationToken cancellationToken)
    {
        InputFile.Check(path, "(expected JSON Lines of {\"id\":..,\"title\":..,\"text\":..})");
        try
        {
            return await ParseAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (InputFile.IsReadError(ex))
        {
            throw InputFile.Unreadable(path, ex);
        }
    }

    private static async Task<IReadOnlyList<PassageRecord>> ParseAsync(string path, CancellationToken cancellationToken)
    {
        var result = new List<PassageRecord>();
        var lineNumber = 0;
        await foreach (var line in Utf8Lines.ReadAsync(path, (number, reason) => new CliException($"{path}:{number}: {reason}", ExitCodes.BadInput), cancellationToken).ConfigureAwait(false))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line, JsonLineText.Strict);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new CliException($"{path}:{lineNumber}: expected a JSON object", ExitCodes.BadInput);
                }

                if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                {
                    throw new CliException($"{path}:{lineNumber}: \"text\" (a string) is required", ExitCodes.BadInput);
                }

                var where = $"{path}:{lineNumber}";
                var id = root.TryGetProperty("id", out var idEl)
                    ? idEl.ValueKind switch
                    {
                        JsonValueKind.String => JsonLineText.Of(idEl, where, "id"),
                        JsonValueKind.Number => idEl.GetRawText(),
                        _ => throw new CliException($"{where}: \"id\" must be a string or a number", ExitCodes.BadInput),
                    }
                    : lineNumber.ToString(CultureInfo.InvariantCulture);
                // A title that is not a string (a number, an object) is refused, as a BEIR corpus line's is: dropped, the
                // passage was judged without the title its line gives. JSON null is no title.
                var title = !root.TryGetProperty("title", out var t) || t.ValueKind == JsonValueKind.Null ? null
                    : t.ValueKind == JsonValueKind.String ? JsonLineText.Of(t, where, "title")
                    : throw new CliException($"{where}: \"title\" must be a string", ExitCodes.BadInput);
                result.Add(new PassageRecord(id, title, JsonLineText.Of(text, where, "text")));
            }
            catch (JsonException ex)
            {
                throw JsonLineText.NotValidJson($"{path}:{lineNumber}", ex, path, lineNumber);
            }
        }

        return result.Count > 0 ? result : throw new CliException($"{path}: no passages", ExitCodes.BadInput);
    }
}
