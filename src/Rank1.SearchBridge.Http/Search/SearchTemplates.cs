using System.Text.Json;
using System.Text.Json.Nodes;
using Rank1.Elastic;
using Rank1.SearchBridge.Backend;

namespace Rank1.SearchBridge.Http.Search;

/// <summary>
/// A search template (<c>_search/template</c>) turned into the search it stands for: rendered by the backend's
/// <c>POST _render/template</c> (so that templates stored on the cluster work), with the template request's
/// <c>explain</c> and <c>profile</c> set on the rendered body, as <c>TransportSearchTemplateAction</c> sets them.
/// </summary>
internal static class SearchTemplates
{
    /// <summary>The backend path that renders a template.</summary>
    public const string RenderPath = "_render/template";

    // SearchTemplateResponse writes the rendered text as a raw field, not re-encoded: this prefix, then the text as it rendered.
    private static ReadOnlySpan<byte> OutputPrefix => "{\"template_output\":"u8;

    /// <summary>
    /// The search body of the backend's 200 answer to <see cref="RenderPath"/>, with the template request's
    /// <c>explain</c> and <c>profile</c> applied. A rendered text that is not JSON is the 400 that Elasticsearch's search
    /// parser gives it at its <c>[line:column]</c> (<see cref="SearchBody.Read"/>); the backend copies it as it rendered.
    /// </summary>
    /// <param name="rendered">The backend's answer.</param>
    /// <param name="template">The client's template request.</param>
    public static JsonObject SearchBody(BackendResponse rendered, byte[] template)
    {
        var answer = ContentCoding.Decoded(rendered).AsSpan().Trim(" \t\r\n"u8);
        JsonObject body;
        if (answer.StartsWith(OutputPrefix) && answer.EndsWith("}"u8))
        {
            body = Elastic.SearchBody.Read(answer[OutputPrefix.Length..^1], checkTrailingTokens: false);
        }
        else
        {
            var parsed = RequestJson.Parse(answer) as JsonObject;
            body = parsed?["template_output"] as JsonObject
                ?? throw new EsException(502, "rank1_backend_response_exception", "the backend's _render/template answer has no template_output object");
        }

        var request = Read(template);
        Elastic.SearchBody.SetTemplateFlags(body, request?.Explain == true, request?.Profile == true);
        return body;
    }

    // The backend read this body already (it rendered it): here only its flags are wanted, read as the one reading of a
    // template request reads them (SearchTemplateRequest); a body the backend took that it refuses sets neither.
    private static SearchTemplateRequest? Read(byte[] template)
    {
        try
        {
            // Read to its object's end, as the backend read it (SearchTemplateRequest.fromXContent): a token after it is not read.
            return RequestJson.IsEmpty(template) ? null : SearchTemplateRequest.Read(RequestJson.Parse(template.AsSpan(0, RequestJson.ObjectEnd(template))) as JsonObject);
        }
        catch (Exception e) when (e is JsonException or EsException)
        {
            return null;
        }
    }
}
