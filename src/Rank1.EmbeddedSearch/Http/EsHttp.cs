using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Rank1.Elastic;

namespace Rank1.EmbeddedSearch.Http;

/// <summary>Reading request bodies and writing responses the way Elasticsearch does.</summary>
internal static class EsHttp
{
    private const int MaxBodyBytes = 100 * 1024 * 1024; // http.max_content_length

    // Elasticsearch writes "<em>" and "'" as they are; System.Text.Json's default encoder would escape them.
    // A stored _source is written back as deep as it was read (AnswerJson.MaxDepth), past System.Text.Json's default of 64.
    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, MaxDepth = AnswerJson.MaxDepth };
    private static readonly JsonSerializerOptions Pretty = new(Compact) { WriteIndented = true };

    public static async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw new EsException(413, "content_too_long_exception", $"entity content is too long [> {MaxBodyBytes}] for the configured buffer limit [{MaxBodyBytes}]");
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>Elasticsearch's HTTP decoder limits on the request line and the header lines (<see cref="HttpLimits"/>).</summary>
    public static void CheckHttpLimits(HttpContext context, int maxInitialLineLength, int maxHeaderSize)
    {
        var request = context.Request;
        var target = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? $"{request.PathBase}{request.Path}{request.QueryString}";
        HttpLimits.Check(request.Method, target, request.Protocol, request.Headers.SelectMany(h => h.Value.Select(v => (h.Key, v))), maxInitialLineLength, maxHeaderSize);
    }

    /// <summary>
    /// The route's parameters (an index expression, an id) as Elasticsearch's <c>RestController</c> gives them: its
    /// <c>PathTrie</c> splits the raw path at its slashes, then decodes each segment a parameter takes
    /// (<see cref="UrlParameters.TryDecodePathSegment"/>), so <c>%2F</c> is a slash within an index name or an id (the
    /// official clients escape an id <c>a/b</c> so). Kestrel decodes the path but leaves <c>%2F</c> as it is: the document
    /// was stored as <c>a%2Fb</c>. Left as Kestrel gave them where the raw path has no <c>%</c>, or where its segments do
    /// not line up with the decoded path's (dot segments removed). A malformed escape in a parameter's segment is the
    /// <c>IllegalArgumentException</c> of <c>RestUtils.decodeComponent</c>, which <c>tryAllHandlers</c> answers with
    /// <c>handleUnsupportedHttpMethod</c>: the 405 <c>{"error":"invalid escape sequence `%ZZ' at index 3 of: lib%ZZ,
    /// allowed: [GET, POST]","status":405}</c> with <c>Allow</c>, the path's methods (Kestrel kept the escape as text, and
    /// the index <c>lib%ZZ</c> was not found). True when it answered. Run once the channel has read its parameters, as
    /// the request's parameters and channel come before <c>tryAllHandlers</c>. OpenSearch (2.1+) writes its fixed
    /// "Unexpected HTTP method" instead of the exception's message.
    /// </summary>
    /// <param name="context">The request, routed.</param>
    /// <param name="openSearch">Whether the engine is OpenSearch.</param>
    public static async Task<bool> RejectedRouteValuesAsync(HttpContext context, bool openSearch)
    {
        if (context.GetEndpoint() is not Microsoft.AspNetCore.Routing.RouteEndpoint endpoint
            || context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget is not { } raw || !raw.StartsWith('/'))
        {
            return false;
        }

        var rawPath = raw.IndexOf('?', StringComparison.Ordinal) is var query and >= 0 ? raw[..query] : raw;
        if (!rawPath.Contains('%', StringComparison.Ordinal))
        {
            return false; // nothing to decode: the route's values are the raw path's
        }

        var rawSegments = rawPath.Split('/');
        if (rawSegments.Length != (context.Request.Path.Value ?? "").Split('/').Length)
        {
            return false;
        }

        var pattern = endpoint.RoutePattern.PathSegments;
        for (var i = 0; i < pattern.Count && i + 1 < rawSegments.Length; i++)
        {
            if (pattern[i].Parts is not [Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart { IsCatchAll: false } parameter]
                || !context.Request.RouteValues.ContainsKey(parameter.Name))
            {
                continue;
            }

            if (!UrlParameters.TryDecodePathSegment(rawSegments[i + 1], out var decoded, out var malformed))
            {
                await WriteMethodNotAllowedAsync(context, RouteMethods.Of(context), openSearch, malformed).ConfigureAwait(false);
                return true;
            }

            context.Request.RouteValues[parameter.Name] = decoded;
        }

        return false;
    }

    // RestController.handleUnsupportedHttpMethod, the one 405 of a path some route takes: "Incorrect HTTP method for uri
    // [..] and method [..]", or where an IllegalArgumentException caused it, that exception's message (Elasticsearch) or
    // the fixed "Unexpected HTTP method" (OpenSearch 2.1+, #3459); then ", allowed: [GET, POST]" and Allow when the path
    // has methods (getValidHandlerMethodSet, in RestRequest.Method's order: an EnumSet).
    private static Task WriteMethodNotAllowedAsync(HttpContext context, string[] allowed, bool openSearch, string? exceptionMessage = null)
    {
        var reason = exceptionMessage is null ? $"Incorrect HTTP method for uri [{RawUri(context)}] and method [{context.Request.Method}]"
            : openSearch ? "Unexpected HTTP method"
            : exceptionMessage;
        if (allowed.Length > 0)
        {
            context.Response.Headers.Allow = string.Join(',', allowed);
        }

        return WriteUnfilteredAsync(context, 405, new JsonObject
        {
            ["error"] = allowed.Length > 0 ? $"{reason}, allowed: [{string.Join(", ", allowed)}]" : reason,
            ["status"] = 405,
        });
    }

    // RestRequest.uri(): the request's target as it was sent (escapes kept), which RestController's answers quote.
    private static string RawUri(HttpContext context) =>
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget is { } raw && raw.StartsWith('/')
            ? raw
            : $"{context.Request.PathBase}{context.Request.Path}{context.Request.QueryString}";

    /// <summary>The JSON object body, or null when the body is empty. Malformed JSON is a 400 of <paramref name="errorType"/>.</summary>
    public static async Task<JsonObject?> ReadObjectAsync(HttpContext context, string errorType = DefaultErrorType)
    {
        var bytes = await ReadBodyAsync(context).ConfigureAwait(false);
        if (RequestJson.IsEmpty(bytes))
        {
            return null;
        }

        return ParseObject(bytes, errorType);
    }

    /// <summary>
    /// A template request's body (<c>_search/template</c>, <c>_render/template</c>), or null when it is empty: read to its
    /// object's end, as Elasticsearch's <c>SearchTemplateRequest.fromXContent</c> reads it (a token after the object is
    /// never read); otherwise as <see cref="ReadObjectAsync"/> reads a body.
    /// </summary>
    public static async Task<JsonObject?> ReadTemplateRequestAsync(HttpContext context)
    {
        var bytes = await ReadBodyAsync(context).ConfigureAwait(false);
        return RequestJson.IsEmpty(bytes) ? null : ParseObject(bytes.AsSpan(0, RequestJson.ObjectEnd(bytes)));
    }

    private const string DefaultErrorType = "parsing_exception";

    /// <summary>The error type of a document that does not parse (<c>DocumentParsingException</c>).</summary>
    public const string DocumentErrorType = "document_parsing_exception";

    public static JsonObject ParseObject(ReadOnlySpan<byte> json, string errorType = DefaultErrorType)
    {
        JsonNode? node;
        try
        {
            node = RequestJson.Parse(json);
        }
        catch (JsonException ex)
        {
            // A request body that is not JSON, as Elasticsearch's parser words it: x_content_parse_exception at its
            // [line:column] (or x_content_e_o_f_exception); a document's as DocumentParser wraps that error.
            throw errorType switch
            {
                DefaultErrorType => RequestJson.ParseFailure(ex, RequestJson.ByteOrderMarkAsSpaces(json)),
                DocumentErrorType => RequestJson.DocumentParseFailure(ex, RequestJson.ByteOrderMarkAsSpaces(json)),
                _ => ContentToMapFailure(ex, RequestJson.ByteOrderMarkAsSpaces(json)),
            };
        }

        // A document that is not an object: DocumentParser.validateStart's "Malformed content, must start with an object"
        // (placed at XContentLocation.UNKNOWN, so without a [line:col]).
        return node as JsonObject ?? throw new EsException(400, errorType, errorType == "document_parsing_exception"
            ? "Malformed content, must start with an object"
            : $"request body must be a JSON object, found {node?.GetValueKind().ToString().ToLowerInvariant() ?? "null"}");
    }

    // A body read whole into a map (PUT /{index}: RestCreateIndexAction's XContentHelper.convertToMap): the parser's error
    // (JsonXContentParser.nextToken's x_content_parse_exception) passes through, as for a search body; OpenSearch's, whose
    // parser throws Jackson's IOException, convertToMap wraps in a parse_exception "Failed to parse content to map".
    private static EsException ContentToMapFailure(JsonException ex, ReadOnlySpan<byte> text)
    {
        var failure = RequestJson.ParseFailure(ex, text);
        if (failure.OpenSearchForm is { } jackson)
        {
            failure.OpenSearchForm = new EsException(400, "parse_exception", "Failed to parse content to map", null, jackson);
        }

        return failure;
    }

    public static IEnumerable<(int Line, ReadOnlyMemory<byte> Json)> NdjsonLines(byte[] body)
    {
        var line = 0;
        var start = 0;
        for (var i = 0; i <= body.Length; i++)
        {
            if (i == body.Length || body[i] == (byte)'\n')
            {
                line++;
                var segment = body.AsMemory(start, i - start);
                if (!segment.Span.Trim(" \t\r"u8).IsEmpty)
                {
                    yield return (line, segment);
                }

                start = i + 1;
            }
        }
    }

    /// <summary>
    /// Whether the request speaks Elasticsearch 8's REST API: its <c>Accept</c> asks for <c>compatible-with=8</c> (with a
    /// body its <c>Content-Type</c> says the same, or <see cref="RejectedMediaTypeAsync"/> refused it), as
    /// <c>RestCompatibleVersionHelper.getCompatibleVersion</c> makes the request's <c>RestApiVersion</c>. OpenSearch has none.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="flavor">The product the server stands in for.</param>
    public static bool CompatibleWith8(HttpContext context, SearchFlavor flavor) =>
        flavor == SearchFlavor.Elasticsearch && BackendClient.CompatibleWith(context.Request.Headers.Accept.ToString()) == 8;

    /// <summary>
    /// The deprecation warnings of a request as the product's <c>HeaderWarning</c> adds them to the answer: each once, a
    /// <c>Warning</c> header "299 Elasticsearch-9.1.0-rank1-embedded \"[bool][1:29] Deprecated field [mustNot] used,
    /// expected [must_not] instead\"" (the product, its version and build hash as <c>GET /</c> reports them; <c>\</c> and
    /// <c>"</c> escaped).
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="warnings">The warnings, in the order logged.</param>
    /// <param name="flavor">The product the server stands in for.</param>
    public static void AddDeprecationWarnings(HttpContext context, IEnumerable<string> warnings, SearchFlavor flavor)
    {
        var agent = flavor == SearchFlavor.OpenSearch ? $"OpenSearch-{EmbeddedSearchServer.OpenSearchVersion}" : $"Elasticsearch-{EmbeddedSearchServer.ElasticsearchVersion}";
        foreach (var warning in warnings.Distinct(StringComparer.Ordinal))
        {
            var escaped = warning.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal);
            context.Response.Headers.Append("Warning", $"299 {agent}-rank1-embedded \"{escaped}\"");
        }
    }

    /// <summary>
    /// Runs <paramref name="read"/> (which reads a search and runs it, logging its deprecation warnings into the list it is
    /// given as they are met), then adds the warnings logged to the answer, whether it succeeded or threw: Elasticsearch's
    /// warnings are the thread context's response headers, which its <c>RestChannel</c> sends with an error too.
    /// </summary>
    /// <typeparam name="T">What <paramref name="read"/> answers.</typeparam>
    /// <param name="context">The request.</param>
    /// <param name="flavor">The product the server stands in for.</param>
    /// <param name="read">The work that logs them, into the list it is given.</param>
    public static T WithDeprecationWarnings<T>(HttpContext context, SearchFlavor flavor, Func<List<string>, T> read)
    {
        var deprecations = new List<string>();
        try
        {
            return read(deprecations);
        }
        finally
        {
            AddDeprecationWarnings(context, deprecations, flavor);
        }
    }

    /// <summary>Writes an answer, shaped by <c>filter_path</c> and <c>pretty</c> as Elasticsearch shapes its answers.</summary>
    public static Task WriteAsync(HttpContext context, int status, JsonNode? body)
    {
        var filter = body is null ? null : FilterPath.Parse(context.Request.Query["filter_path"].ToString());
        return WriteUnfilteredAsync(context, status, filter is null ? body : filter.Apply(body!));
    }

    /// <summary>
    /// Elasticsearch never applies <c>filter_path</c> to an error: the client always sees what went wrong. With
    /// <c>error_trace=true</c> the error and each root cause carry the <c>stack_trace</c>, as Elasticsearch's do.
    /// </summary>
    public static Task WriteErrorAsync(HttpContext context, EsException error)
    {
        return WriteUnfilteredAsync(context, error.Status, error.ToBody(FlagParam(context, "error_trace") ? error : null));
    }

    private static async Task WriteUnfilteredAsync(HttpContext context, int status, JsonNode? body, bool? pretty = null)
    {
        context.Response.StatusCode = status;
        if (HttpMethods.IsHead(context.Request.Method) || body is null)
        {
            context.Response.ContentLength = 0;
            return;
        }

        context.Response.ContentType = ResponseContentType(context.Request);
        var bytes = Encoding.UTF8.GetBytes(pretty ?? FlagParam(context, "pretty") ? body.ToJsonString(Pretty) : body.ToJsonString(Compact));
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>The request's URL parameters, read one by name.</summary>
    internal static Func<string, string?> Param(HttpContext context) => name =>
        context.Request.Query.TryGetValue(name, out var v) ? v.ToString() : null;

    // A flag every endpoint reads (pretty, error_trace) as paramAsBoolean reads it; a value it refuses, already
    // answered by RejectedChannelParametersAsync, is off here.
    private static bool FlagParam(HttpContext context, string name) => ChannelParameters.Flag(Param(context)(name));

    /// <summary>
    /// The flags every request's channel and dispatch read with <c>paramAsBoolean</c>, before any handler: a value the
    /// cluster refuses is answered as it answers it (<see cref="ChannelParameters.Refusal"/>). True when it answered.
    /// </summary>
    public static async Task<bool> RejectedChannelParametersAsync(HttpContext context, bool openSearch)
    {
        if (ChannelParameters.Refusal(Param(context), openSearch) is not { } refused)
        {
            return false;
        }

        await WriteUnfilteredAsync(context, 400, refused.Body, refused.Pretty).ConfigureAwait(false);
        return true;
    }

    // The JSON media types this backend reads (Elasticsearch also reads smile, cbor and yaml; these it cannot).
    private static readonly string[] ReadableMediaTypes =
        ["application/json", "application/x-ndjson", "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson"];

    /// <summary>
    /// Elasticsearch's checks of the media types before any handler runs: a body needs a Content-Type it can read
    /// (406 <c>Content-Type header [..] is not supported</c>, or <c>.. is missing</c>), and a <c>compatible-with</c>
    /// version must be the current major or the one before (400 <c>media_type_header_exception</c>; not checked
    /// when <paramref name="major"/> is null, as OpenSearch has no compatible-with), and neither header may be sent
    /// twice, empty or malformed (<see cref="MediaTypeHeaders"/>; OpenSearch checks the Content-Type alone, with its
    /// own words). True when it answered.
    /// </summary>
    public static async Task<bool> RejectedMediaTypeAsync(HttpContext context, int? major)
    {
        var request = context.Request;
        // RestRequest's constructor first: a header sent twice, empty or malformed (OpenSearch reads the Content-Type alone).
        if (MediaTypeHeaders.Refusal(name => request.Headers[name].ToArray(), openSearch: major is null) is { } refused)
        {
            await WriteUnfilteredAsync(context, refused.Status, refused.ToBody(null)).ConfigureAwait(false);
            return true;
        }

        await ReadChunkedContentAsync(request).ConfigureAwait(false);
        var hasBody = HasContent(request);
        if (hasBody)
        {
            var contentType = request.Headers.ContentType;
            string? problem = contentType.Count == 0 ? "Content-Type header is missing"
                : Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType.ToString(), out var parsed)
                  && ReadableMediaTypes.Contains(parsed.MediaType.Value?.ToLowerInvariant()) ? null
                : $"Content-Type header [{string.Join(",", contentType.ToArray())}] is not supported";
            if (problem is not null)
            {
                await WriteUnfilteredAsync(context, 406, new JsonObject { ["error"] = problem, ["status"] = 406 }).ConfigureAwait(false);
                return true;
            }
        }

        if (major is null)
        {
            return false;
        }

        // The Content-Type is read only with a body.
        foreach (var header in hasBody ? new[] { "Accept", "Content-Type" } : ["Accept"])
        {
            var value = request.Headers[header].ToString();
            if (BackendClient.CompatibleWith(value) is { } version && version != major && version != major - 1)
            {
                await WriteMediaTypeErrorAsync(context, $"[{header}]", $"{header} version must be either version {major} or {major - 1}, but found {version}. {header}={value}").ConfigureAwait(false);
                return true;
            }
        }

        // With a body, both headers name the same compatible version, or neither names one (Elasticsearch's
        // RestCompatibleVersionHelper.getCompatibleVersion; a header without one stands for the current major).
        if (hasBody)
        {
            string accept = request.Headers.Accept.Count == 0 ? "null" : request.Headers.Accept.ToString(), contentType = request.Headers.ContentType.ToString();
            int? a = BackendClient.CompatibleWith(accept), c = BackendClient.CompatibleWith(contentType);
            var problem = (a ?? major) != (c ?? major)
                ? "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match."
                : (a is null) != (c is null)
                    ? "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version."
                    : null;
            if (problem is not null)
            {
                await WriteMediaTypeErrorAsync(context, "[Accept, Content-Type]", $"{problem} Accept={accept}, Content-Type={contentType}").ConfigureAwait(false);
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// <c>RestRequest.contentOrSourceParam</c>, for the APIs that read their body with it (<c>_search</c>, <c>_count</c>,
    /// <c>_msearch</c>, <c>_mget</c>, the search template APIs, <c>_search/scroll</c>): a request without content
    /// (<c>contentLength() == 0</c>) that gives <c>source</c> and <c>source_content_type</c> is read with
    /// <c>source</c> as its body, of that media type, and both parameters are consumed (not unrecognized). A request with
    /// content keeps them as parameters, which its API then refuses as unrecognized, as Elasticsearch does. Run after the
    /// media-type headers are checked: Elasticsearch reads them as a request without content.
    /// </summary>
    /// <param name="context">The request.</param>
    public static void SourceParameterAsBody(HttpContext context)
    {
        var request = context.Request;
        // The source parameter first: most requests have none, and the path is split only for those that do.
        if (!request.Query.TryGetValue("source", out var source) || source.ToString().Length == 0
            || HasContent(request) || !ReadsContentOrSource(request.Path)
            || !request.Query.TryGetValue("source_content_type", out var type)
            || !Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(type.ToString(), out var parsed)
            || !ReadableMediaTypes.Contains(parsed.MediaType.Value?.ToLowerInvariant()))
        {
            return;
        }

        var bytes = Encoding.UTF8.GetBytes(source.ToString());
        request.Body = new MemoryStream(bytes);
        request.ContentLength = bytes.Length;
        request.ContentType = type.ToString();
        context.Features.Set<Microsoft.AspNetCore.Http.Features.IQueryFeature>(new Microsoft.AspNetCore.Http.Features.QueryFeature(new QueryCollection(
            request.Query.Where(p => p.Key is not ("source" or "source_content_type")).ToDictionary(p => p.Key, p => p.Value))));
    }

    // The routes whose Rest*Action reads contentOrSourceParam: .../_search, _count, _msearch, _mget, _search/template,
    // _msearch/template, _render/template[/{id}], _search/scroll[/{id}], and OpenSearch's DELETE _search/point_in_time.
    private static bool ReadsContentOrSource(PathString path)
    {
        var s = (path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        bool At(int fromEnd, string name) => s.Length >= fromEnd && s[^fromEnd] == name;
        return s.Length > 0 && (s[^1] is "_search" or "_count" or "_msearch" or "_mget"
            || (At(1, "template") && (At(2, "_search") || At(2, "_msearch") || At(2, "_render")))
            || (s.Length == 3 && s[0] == "_render" && s[1] == "template")
            || (s.Length == 2 && s[0] == "_search" && s[1] == "point_in_time") // OpenSearch's RestDeletePitAction
            || (At(1, "scroll") && At(2, "_search"))
            || (s.Length == 3 && s[0] == "_search" && s[1] == "scroll"));
    }

    // RestRequest.hasContent: contentLength() > 0 once Netty has aggregated the body, so a body sent in chunks counts
    // only when a chunk holds a byte (ReadChunkedContentAsync found whether one does).
    private static bool HasContent(HttpRequest request) =>
        request.ContentLength > 0
        || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0 && request.HttpContext.Items[ChunkedContentKey] is not false);

    private static readonly object ChunkedContentKey = new();

    /// <summary>
    /// Whether a body sent in chunks (no <c>Content-Length</c>) holds any byte, found once before the media types are
    /// checked: its first chunk is peeked at in the request's pipe and left there unconsumed, so the handler reads the body
    /// whole, with no copy (a chunked <c>_bulk</c> of hundreds of MB is not buffered for it). Elasticsearch and OpenSearch
    /// aggregate the body before any handler runs, and an empty one is no content.
    /// </summary>
    private static async Task ReadChunkedContentAsync(HttpRequest request)
    {
        if (request.ContentLength is not null || request.Headers.TransferEncoding.Count == 0)
        {
            return;
        }

        var reader = request.BodyReader;
        var first = await reader.ReadAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
        request.HttpContext.Items[ChunkedContentKey] = !first.Buffer.IsEmpty;
        reader.AdvanceTo(first.Buffer.Start);
    }

    /// <summary>
    /// <c>BaseRestHandler.handleRequest</c>'s last check, once its handler has read the request and the parameters have
    /// passed, before anything runs: a body sent to an API that reads none (<c>_cat/indices</c>, <c>_cluster/health</c>,
    /// <c>GET</c>/<c>DELETE</c> of an index or a document, ...) is the 400 <c>illegal_argument_exception</c> "request
    /// [GET /_cat/indices] does not support having a body", in Elasticsearch and OpenSearch alike, not ignored.
    /// </summary>
    /// <param name="context">The request.</param>
    public static void ThrowIfBody(HttpContext context)
    {
        var request = context.Request;
        if (HasContent(request))
        {
            throw EsException.IllegalArgument($"request [{request.Method} {request.PathBase}{request.Path}] does not support having a body");
        }
    }

    /// <summary>Elasticsearch's 400 for media-type headers it refuses: a <c>media_type_header_exception</c> caused by a <c>status_exception</c>.</summary>
    private static Task WriteMediaTypeErrorAsync(HttpContext context, string headers, string cause)
    {
        var error = new JsonObject
        {
            ["root_cause"] = new JsonArray(new JsonObject { ["type"] = "media_type_header_exception", ["reason"] = $"Invalid media-type value on headers {headers}" }),
            ["type"] = "media_type_header_exception",
            ["reason"] = $"Invalid media-type value on headers {headers}",
            ["caused_by"] = new JsonObject { ["type"] = "status_exception", ["reason"] = cause },
        };
        return WriteUnfilteredAsync(context, 400, new JsonObject { ["error"] = error, ["status"] = 400 });
    }

    /// <summary>
    /// What Elasticsearch answers when no route takes a request (routing found no endpoint, or only ASP.NET's
    /// method-rejection endpoint), as <c>RestController.handleNoHandlerFound</c> does: OPTIONS is
    /// <c>handleOptionsRequest</c>'s 200 with no body, <c>Allow</c> the path's methods where it has some, before anything
    /// is decoded; otherwise a 405 <c>Incorrect HTTP method ..., allowed: [..]</c> with <c>Allow</c> when the path exists
    /// for other methods, else a 400 <c>no handler found for uri [..] and method [..]</c>. Both carry <c>error</c> as a
    /// string, as Elasticsearch's do. OpenSearch's "no handler found" names the path alone, decoded, without the query
    /// (<c>handleBadRequest</c>: <c>new URI(uri).getPath()</c>), or says "invalid uri has been requested" where Java's
    /// <c>URI</c> refuses the target (<see cref="JavaUriPath"/>).
    /// </summary>
    /// <param name="context">The request no route took.</param>
    /// <param name="openSearch">Whether the engine is OpenSearch.</param>
    public static async Task AnswerUnroutedAsync(HttpContext context, bool openSearch)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        var endpoint = context.GetEndpoint();
        var unknown = endpoint is null && context.Response.StatusCode == 404;
        var wrongMethod = context.Response.StatusCode == 405 && endpoint?.DisplayName?.StartsWith("405", StringComparison.Ordinal) == true;
        if (!unknown && !wrongMethod)
        {
            return;
        }

        if (HttpMethods.IsOptions(context.Request.Method))
        {
            // The first of tryAllHandlers' tries (explicit nodes only) finds nothing and decodes nothing:
            // handleNoHandlerFound answers OPTIONS, whatever the path, before a malformed escape is met.
            var allowed = RouteMethods.Of(context);
            if (allowed.Length > 0)
            {
                context.Response.Headers.Allow = string.Join(',', allowed);
            }

            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/plain; charset=UTF-8";
            context.Response.ContentLength = 0;
            return;
        }

        if (unknown && MalformedFirstSegment(context) is { } malformed)
        {
            // PathTrie.retrieve, matching root wildcards (WILDCARD_ROOT_NODES_ALLOWED), takes any first segment into the
            // /{index} routes' parameter and decodes it there, before the rest of the path is matched: its
            // IllegalArgumentException is tryAllHandlers' 405, whatever the path (it was "no handler found").
            await WriteMethodNotAllowedAsync(context, RouteMethods.Of(context), openSearch, malformed).ConfigureAwait(false);
        }
        else if (unknown || IsApiOfOneSegment(context))
        {
            // Routing picks the methods before the index name's constraint: POST /_aliases met the /{index} routes' methods.
            await WriteUnfilteredAsync(context, 400, new JsonObject { ["error"] = NoHandlerFound(context, openSearch) }).ConfigureAwait(false);
        }
        else
        {
            await WriteMethodNotAllowedAsync(context, RouteMethods.Of(context), openSearch).ConfigureAwait(false);
        }
    }

    // handleBadRequest's text, built only where the 400 is answered: OpenSearch's scans the target (JavaUriPath).
    private static string NoHandlerFound(HttpContext context, bool openSearch)
    {
        var uri = RawUri(context);
        return !openSearch ? $"no handler found for uri [{uri}] and method [{context.Request.Method}]"
            : JavaUriPath(uri) is { } path ? $"no handler found for uri [{path}] and method [{context.Request.Method}]"
            : "invalid uri has been requested";
    }

    /// <summary>
    /// OpenSearch's <c>new URI(uri).getPath()</c>: the target's path with its escapes decoded (UTF-8), or null where
    /// <c>java.net.URI</c> (RFC 2396) refuses the target: a character its path, query or fragment does not take
    /// (<c>|</c>, <c>{</c>, a space, <c>[</c> in the path), or a <c>%</c> not followed by two hex digits.
    /// </summary>
    /// <param name="target">The request target as sent.</param>
    internal static string? JavaUriPath(string target)
    {
        const string Unreserved = "-_.!~*'()";
        static bool Other(char c) => c > 127 && !char.IsWhiteSpace(c) && !char.IsControl(c) && c != '\u00a0';
        static bool Valid(string part, string punct)
        {
            for (var i = 0; i < part.Length; i++)
            {
                var c = part[i];
                if (c == '%')
                {
                    if (i + 2 >= part.Length || !Uri.IsHexDigit(part[i + 1]) || !Uri.IsHexDigit(part[i + 2]))
                    {
                        return false;
                    }

                    i += 2;
                }
                else if (!char.IsAsciiLetterOrDigit(c) && !Unreserved.Contains(c, StringComparison.Ordinal) && !punct.Contains(c, StringComparison.Ordinal) && !Other(c))
                {
                    return false;
                }
            }

            return true;
        }

        var hash = target.IndexOf('#', StringComparison.Ordinal);
        var (beforeFragment, fragment) = hash < 0 ? (target, "") : (target[..hash], target[(hash + 1)..]);
        var question = beforeFragment.IndexOf('?', StringComparison.Ordinal);
        var (path, query) = question < 0 ? (beforeFragment, "") : (beforeFragment[..question], beforeFragment[(question + 1)..]);
        const string Uric = ";/?:@&=+$,[]";
        if (path.StartsWith("//", StringComparison.Ordinal))
        {
            // An authority (a registry-based name, as URI.parseAuthority falls back to), then the path.
            var slash = path.IndexOf('/', 2);
            var authority = slash < 0 ? path[2..] : path[2..slash];
            path = slash < 0 ? "" : path[slash..];
            if (!Valid(authority, "$,;:@&=+"))
            {
                return null;
            }
        }

        if (!Valid(path, ":@&=+$,;/") || !Valid(query, Uric) || !Valid(fragment, Uric))
        {
            return null;
        }

        return UrlParameters.TryDecodePathSegment(path, out var decoded, out _) ? decoded : null;
    }

    // The first segment of the raw path, when its escapes are malformed: RestUtils.decodeComponent's message, else null.
    private static string? MalformedFirstSegment(HttpContext context)
    {
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        if (raw is null || !raw.StartsWith('/'))
        {
            return null;
        }

        var first = raw[1..].Split('/', '?')[0];
        return UrlParameters.TryDecodePathSegment(first, out _, out var malformed) ? null : malformed;
    }

    // "/_aliases": one segment naming an API (index names never start with '_', but _all) that only the /{index} routes,
    // whose constraint refuses it, matched by method.
    private static bool IsApiOfOneSegment(HttpContext context) =>
        context.Request.Path.Value is { } path && path.Length > 2 && path[1] == '_' && path.IndexOf('/', 1) < 0 && path != "/_all"
        && context.Response.Headers.Allow.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).All(m => m is "GET" or "HEAD" or "PUT" or "DELETE");

    /// <summary>
    /// Elasticsearch answers a client that asked for <c>application/vnd.elasticsearch+json; compatible-with=N</c>
    /// (the official clients) in that media type, everybody else in <c>application/json</c>.
    /// </summary>
    public static string ResponseContentType(HttpRequest request)
    {
        var accept = request.Headers.Accept.ToString();
        var marker = accept.IndexOf("compatible-with=", StringComparison.OrdinalIgnoreCase);
        if (accept.Contains("vnd.elasticsearch+json", StringComparison.OrdinalIgnoreCase) && marker >= 0)
        {
            var version = new string(accept[(marker + "compatible-with=".Length)..].TakeWhile(char.IsDigit).ToArray());
            return $"application/vnd.elasticsearch+json;compatible-with={version}";
        }

        return "application/json";
    }

    /// <summary>
    /// A write's <c>refresh</c>, read as <c>WriteRequest.RefreshPolicy.parse</c> reads it: <c>true</c> or empty refreshes,
    /// <c>wait_for</c> waits for a refresh, <c>false</c> or none does neither, and any other value is its 400
    /// "Unknown value for refresh: [x]." before anything is written.
    /// </summary>
    public static RefreshPolicy Refresh(HttpRequest request) => !request.Query.TryGetValue("refresh", out var v) ? RefreshPolicy.None : v.ToString() switch
    {
        "false" => RefreshPolicy.None,
        "" or "true" => RefreshPolicy.Immediate,
        "wait_for" => RefreshPolicy.WaitUntil,
        var other => throw EsException.IllegalArgument($"Unknown value for refresh: [{other}]."),
    };
}
