using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using LabelLens.Server.Aws.S3;
using LabelLens.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LabelLens.Server.Aws.DynamoDb;

/// <summary>
/// Amazon DynamoDB's read operations on the AWS JSON 1.0 protocol, at POST / of the API listener beside
/// Rekognition (one endpoint URL serves both), over one read-only table: the catalog's results (see
/// <see cref="ResultItems"/> for the items and their key) with a global secondary index "Label" (partition key
/// Label, sort key Confidence). Requests are SigV4-signed for service "dynamodb" with the S3 endpoint's keys.
/// </summary>
public sealed class DynamoDbApi
{
    public const string TargetPrefix = "DynamoDB_20120810.";

    /// <summary>DynamoDB stops a Query or Scan page at 1 MB of items read.</summary>
    private const long MaxPageBytes = 1 << 20;

    /// <summary>Read requests are small (BatchGetItem's 100 keys included).</summary>
    private const long MaxRequestBytes = 1 << 20;

    /// <summary>Rows read from the catalog at a time while a page fills.</summary>
    private const int BatchRows = 100;

    private const int MaxBatchGetKeys = 100;

    private static readonly string[] Supported = ["ListTables", "DescribeTable", "GetItem", "BatchGetItem", "Query", "Scan"];

    private static readonly HashSet<string> ItemWrites = new(StringComparer.Ordinal) { "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems" };

    private static readonly HashSet<string> TableWrites = new(StringComparer.Ordinal)
    {
        "CreateTable", "DeleteTable", "UpdateTable", "UpdateTimeToLive", "CreateBackup", "DeleteBackup", "RestoreTableFromBackup",
        "RestoreTableToPointInTime", "CreateGlobalTable", "UpdateGlobalTable", "UpdateGlobalTableSettings", "UpdateContinuousBackups",
        "UpdateContributorInsights", "TagResource", "UntagResource", "ImportTable", "ExportTableToPointInTime",
        "EnableKinesisStreamingDestination", "DisableKinesisStreamingDestination", "UpdateKinesisStreamingDestination",
        "PutResourcePolicy", "DeleteResourcePolicy", "UpdateTableReplicaAutoScaling",
    };

    private readonly IResultsTable _table;
    private readonly DynamoDbOptions _options;
    private readonly S3SigV4 _signatures;
    private readonly IReadOnlyList<string> _apiKeys;
    private readonly string _region;
    private readonly TimeProvider _time;
    private readonly ILogger<DynamoDbApi> _logger;

    public DynamoDbApi(IResultsTable table, IOptions<DynamoDbOptions> options, IOptions<ServerOptions> serverOptions, TimeProvider time, ILogger<DynamoDbApi> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(serverOptions);
        _table = table;
        _options = options.Value;
        _signatures = new S3SigV4(S3Setup.Secrets(serverOptions.Value), allowAnonymous: false, time);
        _apiKeys = serverOptions.Value.ApiKeys;
        _region = serverOptions.Value.S3Region;
        _time = time;
        _logger = logger;
    }

    private string Arn => $"arn:aws:dynamodb:{_region}:000000000000:table/{_options.TableName}";

    public async Task HandleAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var requestId = Guid.NewGuid().ToString();
        context.Response.Headers["x-amzn-RequestId"] = requestId;
        var operation = context.Request.Headers["X-Amz-Target"].ToString()[TargetPrefix.Length..];
        try
        {
            var body = await AwsJsonProtocol.ReadBodyAsync(context.Request, MaxRequestBytes, context.RequestAborted)
                ?? throw DynamoDbException.Validation($"The request is over {MaxRequestBytes:N0} bytes; LabelLens's read operations take less.");
            if (AwsJsonProtocol.Authenticate(_signatures, _apiKeys, context, "dynamodb", body) is { } refused)
            {
                throw DynamoDbException.Refused(refused);
            }

            var contentType = context.Request.ContentType ?? "";
            if (!contentType.StartsWith("application/x-amz-json-1.0", StringComparison.OrdinalIgnoreCase)
                && !contentType.StartsWith("application/x-amz-json-1.1", StringComparison.OrdinalIgnoreCase)
                && !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            {
                throw DynamoDbException.Serialization("Content-Type must be application/x-amz-json-1.0.");
            }

            var response = await RunAsync(operation, DynamoDbRequest.Parse(body), context.RequestAborted);
            await WriteAsync(context, StatusCodes.Status200OK, response);
        }
        catch (DynamoDbException ex)
        {
            _logger.LogInformation("DynamoDB {Operation} {RequestId} refused: {Type} {Message}", AttributeValues.Printable(operation), requestId, ex.Name, ex.Message);
            await WriteErrorAsync(context, ex);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            _logger.LogError(ex, "DynamoDB {Operation} {RequestId} failed", AttributeValues.Printable(operation), requestId);
            await WriteErrorAsync(context, DynamoDbException.InternalServerError());
        }
    }

    private Task<JsonObject> RunAsync(string operation, DynamoDbRequest request, CancellationToken cancellationToken) => operation switch
    {
        "ListTables" => Task.FromResult(ListTables(request)),
        "DescribeTable" => DescribeTableAsync(request, cancellationToken),
        "GetItem" => GetItemAsync(request, cancellationToken),
        "BatchGetItem" => BatchGetItemAsync(request, cancellationToken),
        "Query" => QueryAsync(request, cancellationToken),
        "Scan" => ScanAsync(request, cancellationToken),
        _ when ItemWrites.Contains(operation) => throw DynamoDbException.AccessDenied(
            $"{operation} is refused: the table {_options.TableName} is read-only. LabelLens's labeling pipeline writes its items: upload, replace or delete the object (through S3 or the HTTP API) and its item follows; a label by hand is POST /api/v1/images/{{id}}/labels."),
        _ when TableWrites.Contains(operation) => throw DynamoDbException.AccessDenied(
            $"{operation} is refused: LabelLens serves one read-only table, {_options.TableName}, written by its labeling pipeline; tables cannot be created, changed or deleted here."),
        _ => throw DynamoDbException.UnknownOperation(
            $"Operation '{AttributeValues.Printable(operation)}' is not supported here; LabelLens serves the read-only table {_options.TableName} with {string.Join(", ", Supported)}."),
    };

    private JsonObject ListTables(DynamoDbRequest request)
    {
        var start = request.String("ExclusiveStartTableName");
        if (request.Positive("Limit") is > 100)
        {
            throw DynamoDbException.Validation("1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100");
        }

        var names = start is null || string.CompareOrdinal(_options.TableName, start) > 0 ? new JsonArray(_options.TableName) : [];
        return new JsonObject { ["TableNames"] = names };
    }

    private async Task<JsonObject> DescribeTableAsync(DynamoDbRequest request, CancellationToken cancellationToken)
    {
        RequireTable(request.String("TableName"));
        var counts = await _table.CountResultsAsync(cancellationToken);
        var created = (counts.Since ?? _time.GetUtcNow()).ToUnixTimeMilliseconds() / 1000.0;
        JsonObject Throughput() => new() { ["NumberOfDecreasesToday"] = 0, ["ReadCapacityUnits"] = 0, ["WriteCapacityUnits"] = 0 };
        JsonObject KeyElement(string name, string type) => new() { ["AttributeName"] = name, ["KeyType"] = type };
        JsonObject Definition(string name, string type) => new() { ["AttributeName"] = name, ["AttributeType"] = type };
        return new JsonObject
        {
            ["Table"] = new JsonObject
            {
                ["AttributeDefinitions"] = new JsonArray(Definition(ResultItems.KeyAttribute, "S"), Definition(ResultItems.LabelAttribute, "S"), Definition(ResultItems.ConfidenceAttribute, "N")),
                ["TableName"] = _options.TableName,
                ["KeySchema"] = new JsonArray(KeyElement(ResultItems.KeyAttribute, "HASH")),
                ["TableStatus"] = "ACTIVE",
                ["CreationDateTime"] = created,
                ["ProvisionedThroughput"] = Throughput(),
                // DynamoDB's size is an estimate refreshed every few hours; LabelLens does not estimate it.
                ["TableSizeBytes"] = 0,
                ["ItemCount"] = counts.Rows,
                ["TableArn"] = Arn,
                ["BillingModeSummary"] = new JsonObject { ["BillingMode"] = "PAY_PER_REQUEST" },
                ["GlobalSecondaryIndexes"] = new JsonArray(new JsonObject
                {
                    ["IndexName"] = ResultItems.IndexName,
                    ["KeySchema"] = new JsonArray(KeyElement(ResultItems.LabelAttribute, "HASH"), KeyElement(ResultItems.ConfidenceAttribute, "RANGE")),
                    ["Projection"] = new JsonObject { ["ProjectionType"] = "ALL" },
                    ["IndexStatus"] = "ACTIVE",
                    ["ProvisionedThroughput"] = Throughput(),
                    ["IndexSizeBytes"] = 0,
                    ["ItemCount"] = counts.LabelEntries,
                    ["IndexArn"] = $"{Arn}/index/{ResultItems.IndexName}",
                }),
                ["DeletionProtectionEnabled"] = true,
            },
        };
    }

    private async Task<JsonObject> GetItemAsync(DynamoDbRequest request, CancellationToken cancellationToken)
    {
        RequireTable(request.String("TableName"));
        CheckCapacityOption(request);
        request.Boolean("ConsistentRead");
        var imageId = KeyValue(request.AttributeMap("Key"), "key");
        var projection = ReadProjection(request);
        var item = (await GetItemsAsync([imageId], cancellationToken)).GetValueOrDefault(imageId);
        return item is null ? [] : new JsonObject { ["Item"] = projection is null ? item : ResultItems.Project(item, projection) };
    }

    private async Task<JsonObject> BatchGetItemAsync(DynamoDbRequest request, CancellationToken cancellationToken)
    {
        CheckCapacityOption(request);
        var tables = request.Object("RequestItems") ?? throw DynamoDbException.Validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null");
        if (tables.Count == 0)
        {
            throw DynamoDbException.Validation("1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1");
        }

        var responses = new JsonObject();
        var total = 0;
        foreach (var (name, member) in tables)
        {
            var table = DynamoDbRequest.Of(member as JsonObject ?? throw DynamoDbException.Serialization($"RequestItems.{name} must be a JSON object."));
            RequireTable(name);
            table.Boolean("ConsistentRead");
            var keys = table.Array("Keys") ?? throw DynamoDbException.Validation("1 validation error detected: Value null at 'requestItems.keys' failed to satisfy constraint: Member must not be null");
            var ids = keys.Select(k => KeyValue(k is JsonObject key ? key.ToDictionary(p => p.Key, p => AttributeValues.Validate(p.Value, "Keys"), StringComparer.Ordinal) : null, "keys")).ToList();
            total += ids.Count;
            if (ids.Count == 0 || total > MaxBatchGetKeys)
            {
                throw DynamoDbException.Validation(ids.Count == 0
                    ? "1 validation error detected: Value at 'requestItems.keys' failed to satisfy constraint: Member must have length greater than or equal to 1"
                    : $"Too many items requested for the BatchGetItem call (at most {MaxBatchGetKeys} keys).");
            }

            if (ids.Distinct(StringComparer.Ordinal).Count() != ids.Count)
            {
                throw DynamoDbException.Validation("Provided list of item keys contains duplicates");
            }

            var projection = ReadProjection(table);
            var found = await GetItemsAsync(ids, cancellationToken);
            // Under the name the request used (a name or an ARN), where clients look for it.
            responses[name] = new JsonArray([.. ids.Where(found.ContainsKey).Select(id => (JsonNode)(projection is null ? found[id] : ResultItems.Project(found[id], projection)))]);
        }

        // Every key is read at once: nothing is left unprocessed.
        return new JsonObject { ["Responses"] = responses, ["UnprocessedKeys"] = new JsonObject() };
    }

    private async Task<JsonObject> QueryAsync(DynamoDbRequest request, CancellationToken cancellationToken)
    {
        RequireTable(request.String("TableName"));
        RejectLegacy(request, "KeyConditions", "QueryFilter", "ConditionalOperator");
        CheckCapacityOption(request);
        var index = request.String("IndexName");
        if (index is not null && index != ResultItems.IndexName)
        {
            throw DynamoDbException.Validation($"The table does not have the specified index: {AttributeValues.Printable(index)}");
        }

        var keyText = request.String("KeyConditionExpression")
            ?? throw DynamoDbException.Validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.");
        var attributes = new ExpressionAttributes(request.Names(), request.Values());
        var key = ExpressionParser.ParseCondition(keyText, "KeyConditionExpression", attributes);
        var shape = ReadShape(request, attributes, index);
        var keyAttributes = index is null ? new[] { ResultItems.KeyAttribute } : [ResultItems.LabelAttribute, ResultItems.ConfidenceAttribute];
        if (shape.Filter?.Paths.FirstOrDefault(p => keyAttributes.Contains(p.Attribute, StringComparer.Ordinal)) is { } keyPath)
        {
            throw DynamoDbException.Validation($"Filter Expression can only contain non-primary key attributes: Primary key attribute: {keyPath.Attribute}");
        }

        if (index is not null && request.Boolean("ConsistentRead") == true)
        {
            throw DynamoDbException.Validation("Consistent reads are not supported on global secondary indexes");
        }

        var limit = request.Positive("Limit") ?? int.MaxValue;
        var forward = request.Boolean("ScanIndexForward") ?? true;
        var start = request.AttributeMap("ExclusiveStartKey");
        if (index is null)
        {
            var (imageId, _) = KeyCondition(key, ResultItems.KeyAttribute, null);
            if (start is not null)
            {
                // A table query matches one item at most: a page after it is empty.
                KeyValue(start, "exclusiveStartKey");
                return Page(shape, [], null, 0);
            }

            var item = (await GetItemsAsync([imageId], cancellationToken)).GetValueOrDefault(imageId);
            var matched = item is not null && (shape.Filter?.Evaluate(item) ?? true);
            return Page(shape, matched ? [shape.Shape(item!)] : [], null, item is null ? 0 : 1, matched ? 1 : 0);
        }

        var (label, range) = KeyCondition(key, ResultItems.LabelAttribute, ResultItems.ConfidenceAttribute);
        var after = start is null ? null : await IndexStartAsync(start, label, cancellationToken);
        return await PageAsync(
            after,
            async (position, count) => (await _table.QueryLabelIndexAsync(label, range!, forward, position, count, cancellationToken))
                .Select(e => new Candidate<LabelIndexPosition>(ResultItems.IndexItem(e), ResultItems.IndexKey(e), new LabelIndexPosition(e.Confidence, e.Row.Image.Id)))
                .ToList(),
            shape,
            limit);
    }

    private async Task<JsonObject> ScanAsync(DynamoDbRequest request, CancellationToken cancellationToken)
    {
        RequireTable(request.String("TableName"));
        RejectLegacy(request, "ScanFilter", "ConditionalOperator");
        CheckCapacityOption(request);
        request.Boolean("ConsistentRead");
        if (request.String("IndexName") is { } index)
        {
            throw DynamoDbException.Validation(index == ResultItems.IndexName
                ? $"LabelLens does not Scan the {ResultItems.IndexName} index: Query it (KeyConditionExpression 'Label = :label'), or Scan the table."
                : $"The table does not have the specified index: {AttributeValues.Printable(index)}");
        }

        var attributes = new ExpressionAttributes(request.Names(), request.Values());
        var shape = ReadShape(request, attributes, null);
        var limit = request.Positive("Limit") ?? int.MaxValue;
        var (segment, total) = (request.Integer("Segment"), request.Integer("TotalSegments"));
        if (segment is null != total is null)
        {
            throw DynamoDbException.Validation(segment is null
                ? "The Segment parameter is required but was not present in the request when parameter TotalSegments is present"
                : "The TotalSegments parameter is required but was not present in the request when Segment parameter is present");
        }

        if (total is < 1 or > 1_000_000)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{total}' at 'totalSegments' failed to satisfy constraint: Member must have value between 1 and 1000000");
        }

        if (segment < 0 || segment >= total)
        {
            throw DynamoDbException.Validation($"The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is out of bounds for TotalSegments: {total}");
        }

        string? after = null;
        if (request.AttributeMap("ExclusiveStartKey") is { } start)
        {
            after = await CatalogIdAsync(KeyValue(start, "exclusiveStartKey"), cancellationToken)
                ?? throw DynamoDbException.Validation("The provided starting key is invalid: no item has that ImageId any more; resume with the LastEvaluatedKey the previous page returned (its s3://bucket/key form stays valid).");
            if (total is { } parts && TableSegments.Of(after, parts) != segment)
            {
                throw DynamoDbException.Validation("The provided Exclusive start key does not map to the provided Segment and TotalSegments values.");
            }
        }

        return await PageAsync(
            after,
            async (position, count) => (await _table.ScanResultRowsAsync(position, segment ?? 0, total ?? 1, count, cancellationToken))
                .Select(row => new Candidate<string>(ResultItems.Item(row), ResultItems.TableKey(row), row.Image.Id))
                .ToList(),
            shape,
            limit);
    }

    /// <summary>
    /// Fills a Query or Scan page from the catalog, <see cref="BatchRows"/> rows at a time: Limit counts the items
    /// read (before the filter, as DynamoDB does), and a page also ends after 1 MB of items read. A row past the
    /// page is read ahead, so LastEvaluatedKey is returned only when more items follow.
    /// </summary>
    private static async Task<JsonObject> PageAsync<TPosition>(TPosition? start, Func<TPosition?, int, Task<List<Candidate<TPosition>>>> fetch, ReadShape shape, int limit)
        where TPosition : class
    {
        var items = new List<JsonObject>();
        var (scanned, matched) = (0, 0);
        long bytes = 0;
        JsonObject? lastKey = null;
        var position = start;
        var more = false;
        while (!more)
        {
            var want = Math.Min(limit - scanned, BatchRows);
            var batch = await fetch(position, want + 1);
            for (var i = 0; i < Math.Min(batch.Count, want); i++)
            {
                var candidate = batch[i];
                scanned++;
                position = candidate.Position;
                lastKey = candidate.Key;
                bytes += Encoding.UTF8.GetByteCount(candidate.Item.ToJsonString());
                if (shape.Filter?.Evaluate(candidate.Item) ?? true)
                {
                    matched++;
                    items.Add(shape.Shape(candidate.Item));
                }

                if (bytes >= MaxPageBytes && i + 1 < batch.Count)
                {
                    more = true;
                    break;
                }
            }

            if (!more && batch.Count <= want)
            {
                break;
            }

            more = more || scanned >= limit;
        }

        return Page(shape, items, more ? lastKey : null, scanned, matched);
    }

    private static JsonObject Page(ReadShape shape, List<JsonObject> items, JsonObject? lastKey, int scanned, int? matched = null)
    {
        var page = new JsonObject();
        if (!shape.CountOnly)
        {
            page["Items"] = new JsonArray([.. items]);
        }

        page["Count"] = matched ?? items.Count;
        page["ScannedCount"] = scanned;
        if (lastKey is not null)
        {
            page["LastEvaluatedKey"] = lastKey;
        }

        return page;
    }

    /// <summary>FilterExpression, ProjectionExpression / AttributesToGet and Select of a Query or Scan; every placeholder must be used.</summary>
    private static ReadShape ReadShape(DynamoDbRequest request, ExpressionAttributes attributes, string? index)
    {
        var filter = request.String("FilterExpression") is { } text ? ExpressionParser.ParseCondition(text, "FilterExpression", attributes) : null;
        var projection = Projection(request, attributes);
        attributes.CheckAllUsed();
        var select = request.Enum("Select", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT");
        if (select == "SPECIFIC_ATTRIBUTES" && projection is null)
        {
            throw DynamoDbException.Validation("Select SPECIFIC_ATTRIBUTES needs a ProjectionExpression (or AttributesToGet).");
        }

        if (projection is not null && select is not null and not "SPECIFIC_ATTRIBUTES")
        {
            throw DynamoDbException.Validation($"Cannot specify the ProjectionExpression when choosing to get {select}");
        }

        if (select == "ALL_PROJECTED_ATTRIBUTES" && index is null)
        {
            throw DynamoDbException.Validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName");
        }

        return new ReadShape(filter, projection, select == "COUNT");
    }

    /// <summary>GetItem's and BatchGetItem's projection: its placeholders only (these operations have no values).</summary>
    private static IReadOnlyList<DocumentPath>? ReadProjection(DynamoDbRequest request)
    {
        if (request.Has("ExpressionAttributeValues"))
        {
            throw DynamoDbException.Validation("ExpressionAttributeValues can only be specified when using expressions: ProjectionExpression takes none");
        }

        var names = request.Names();
        if (names is not null && !request.Has("ProjectionExpression"))
        {
            throw DynamoDbException.Validation("ExpressionAttributeNames can only be specified when using expressions");
        }

        var attributes = new ExpressionAttributes(names, null);
        var projection = Projection(request, attributes);
        attributes.CheckAllUsed();
        return projection;
    }

    private static IReadOnlyList<DocumentPath>? Projection(DynamoDbRequest request, ExpressionAttributes attributes)
    {
        var expression = request.String("ProjectionExpression");
        var legacy = request.Array("AttributesToGet");
        if (expression is not null && legacy is not null)
        {
            throw DynamoDbException.Validation("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}");
        }

        if (expression is not null)
        {
            return ExpressionParser.ParseProjection(expression, attributes);
        }

        if (legacy is null)
        {
            return null;
        }

        var names = legacy.Select(n => n is JsonValue v && v.TryGetValue<string>(out var name) && name.Length > 0 ? name : throw DynamoDbException.Serialization("AttributesToGet must be a list of attribute names.")).ToList();
        if (names.Count == 0 || names.Distinct(StringComparer.Ordinal).Count() != names.Count)
        {
            throw DynamoDbException.Validation("One or more parameter values were invalid: AttributesToGet must hold distinct attribute names, at least one");
        }

        return names.Select(n => new DocumentPath([n])).ToList();
    }

    /// <summary>
    /// A KeyConditionExpression: "<paramref name="partitionKey"/> = :v", and for the index optionally one condition
    /// on <paramref name="sortKey"/> (=, &lt;, &lt;=, &gt;, &gt;=, BETWEEN; begins_with does not apply to a number).
    /// </summary>
    private static (string Partition, ConfidenceRange? Range) KeyCondition(Condition condition, string partitionKey, string? sortKey)
    {
        var conditions = new List<Condition>();
        void Flatten(Condition c)
        {
            if (c is AndCondition and)
            {
                Flatten(and.Left);
                Flatten(and.Right);
            }
            else
            {
                conditions.Add(c);
            }
        }

        Flatten(condition);
        string? partition = null;
        ConfidenceRange? range = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var schema = sortKey is null ? partitionKey : $"{partitionKey} (partition key) and {sortKey} (sort key)";
        foreach (var part in conditions)
        {
            var (path, values) = part switch
            {
                Comparison { Left: PathOperand p, Right: ValueOperand v } => (p.Path, new[] { v.Value }),
                Between { Value: PathOperand p, Low: ValueOperand low, High: ValueOperand high } => (p.Path, [low.Value, high.Value]),
                FunctionCondition { Function: "begins_with", Argument: ValueOperand v } f => (f.Path.Path, [v.Value]),
                OrCondition => throw DynamoDbException.Validation("Invalid operator used in KeyConditionExpression: OR"),
                NotCondition => throw DynamoDbException.Validation("Invalid operator used in KeyConditionExpression: NOT"),
                InList => throw DynamoDbException.Validation("Invalid operator used in KeyConditionExpression: IN"),
                FunctionCondition f => throw DynamoDbException.Validation($"Invalid operator used in KeyConditionExpression: {f.Function}"),
                _ => throw DynamoDbException.Validation("Invalid KeyConditionExpression: a key condition compares a key attribute with an expression attribute value (:value)"),
            };
            if (path.Elements.Count != 1 || (path.Attribute != partitionKey && path.Attribute != sortKey))
            {
                throw DynamoDbException.Validation($"Query condition missed key schema element: {path}; the key is {schema}");
            }

            if (!seen.Add(path.Attribute))
            {
                throw DynamoDbException.Validation("KeyConditionExpressions must only contain one condition per key");
            }

            var type = path.Attribute == partitionKey ? "S" : "N";
            if (values.Any(v => AttributeValues.TypeOf(v) != type))
            {
                throw DynamoDbException.Validation($"One or more parameter values were invalid: Condition parameter type does not match schema type ({path.Attribute} is {type})");
            }

            if (path.Attribute == partitionKey)
            {
                if (part is not Comparison { Operator: "=" })
                {
                    throw DynamoDbException.Validation($"Query key condition not supported: the partition key {partitionKey} takes '=' only");
                }

                partition = AttributeValues.String(values[0])!;
                continue;
            }

            var numbers = values.Select(v => AttributeValues.Number(v)!.Value).ToArray();
            range = part switch
            {
                Comparison { Operator: "=" } => new ConfidenceRange(numbers[0], true, numbers[0], true),
                Comparison { Operator: "<" } => new ConfidenceRange(Max: numbers[0], MaxInclusive: false),
                Comparison { Operator: "<=" } => new ConfidenceRange(Max: numbers[0]),
                Comparison { Operator: ">" } => new ConfidenceRange(numbers[0], MinInclusive: false),
                Comparison { Operator: ">=" } => new ConfidenceRange(numbers[0]),
                Between => new ConfidenceRange(numbers[0], true, numbers[1], true),
                FunctionCondition => throw DynamoDbException.Validation($"Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N ({sortKey} is a number)"),
                _ => throw DynamoDbException.Validation("Query key condition not supported: '<>' cannot be used in a key condition"),
            };
        }

        if (partition is null)
        {
            throw DynamoDbException.Validation($"Query condition missed key schema element: {partitionKey}");
        }

        if (partition.Length == 0)
        {
            throw DynamoDbException.Validation($"One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {partitionKey}");
        }

        return (partition, range ?? ConfidenceRange.All);
    }

    /// <summary>Where a Label index page resumes: the previous page's LastEvaluatedKey (ImageId, Label, Confidence).</summary>
    private async Task<LabelIndexPosition> IndexStartAsync(Dictionary<string, JsonObject> start, string label, CancellationToken cancellationToken)
    {
        var keys = new[] { ResultItems.KeyAttribute, ResultItems.LabelAttribute, ResultItems.ConfidenceAttribute };
        if (start.Count != keys.Length || !keys.All(start.ContainsKey)
            || AttributeValues.String(start[ResultItems.KeyAttribute]) is not { Length: > 0 } imageId
            || AttributeValues.String(start[ResultItems.LabelAttribute]) is not { } startLabel
            || AttributeValues.Number(start[ResultItems.ConfidenceAttribute]) is not { } confidence)
        {
            throw DynamoDbException.Validation("The provided starting key is invalid: The provided key element does not match the schema (ImageId S, Label S, Confidence N)");
        }

        if (startLabel != label)
        {
            throw DynamoDbException.Validation("The provided starting key is invalid: its Label is not the one the query asks for");
        }

        var id = await CatalogIdAsync(imageId, cancellationToken)
            ?? throw DynamoDbException.Validation("The provided starting key is invalid: no item has that ImageId any more; resume with the LastEvaluatedKey the previous page returned (its s3://bucket/key form stays valid).");
        return new LabelIndexPosition(confidence, id);
    }

    /// <summary>The items of these ImageIds (bare keys or s3://bucket/key), by the ImageId asked for; those with no item are left out.</summary>
    private async Task<Dictionary<string, JsonObject>> GetItemsAsync(IReadOnlyList<string> imageIds, CancellationToken cancellationToken)
    {
        var catalogIds = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var imageId in imageIds)
        {
            if (await CatalogIdAsync(imageId, cancellationToken) is { } id)
            {
                catalogIds[imageId] = id;
            }
        }

        var rows = (await _table.GetResultRowsAsync(catalogIds.Values.Distinct().ToList(), cancellationToken)).ToDictionary(r => r.Image.Id, StringComparer.Ordinal);
        return catalogIds.Where(p => rows.ContainsKey(p.Value)).ToDictionary(p => p.Key, p => ResultItems.Item(rows[p.Value]), StringComparer.Ordinal);
    }

    private async Task<string?> CatalogIdAsync(string imageId, CancellationToken cancellationToken) =>
        ResultItems.IsQualified(imageId, out var id) ? id : await _table.FindKeyOwnerAsync(imageId, cancellationToken);

    /// <summary>A table key: exactly {"ImageId": {"S": "..."}}.</summary>
    private static string KeyValue(Dictionary<string, JsonObject>? key, string member)
    {
        if (key is null)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null");
        }

        if (key.Count != 1 || !key.TryGetValue(ResultItems.KeyAttribute, out var value) || AttributeValues.String(value) is not { } imageId)
        {
            throw DynamoDbException.Validation($"The provided key element does not match the schema: the key is {ResultItems.KeyAttribute} (S)");
        }

        return imageId.Length > 0
            ? imageId
            : throw DynamoDbException.Validation($"One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {ResultItems.KeyAttribute}");
    }

    /// <summary>The table, by name or ARN; any other is ResourceNotFoundException, a malformed name ValidationException.</summary>
    private void RequireTable(string? name)
    {
        if (name is null)
        {
            throw DynamoDbException.Validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null");
        }

        var table = name.StartsWith("arn:", StringComparison.Ordinal) && name.LastIndexOf(":table/", StringComparison.Ordinal) is > 0 and var at ? name[(at + 7)..] : name;
        if (table.Length is < 3 or > 255 || !table.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{AttributeValues.Printable(name)}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255");
        }

        if (table != _options.TableName)
        {
            throw DynamoDbException.ResourceNotFound($"Requested resource not found: Table: {table} not found (LabelLens serves one table, {_options.TableName}; DynamoDb:TableName names it)");
        }
    }

    private static void RejectLegacy(DynamoDbRequest request, params string[] members)
    {
        foreach (var member in members.Where(request.Has))
        {
            throw DynamoDbException.Validation($"{member} is a legacy parameter LabelLens does not support: use KeyConditionExpression and FilterExpression.");
        }
    }

    private static void CheckCapacityOption(DynamoDbRequest request) => request.Enum("ReturnConsumedCapacity", "INDEXES", "TOTAL", "NONE");

    private static async Task WriteAsync(HttpContext context, int status, JsonObject body)
    {
        var bytes = Encoding.UTF8.GetBytes(body.ToJsonString());
        // DynamoDB's clients check the body against x-amz-crc32 (botocore retries a mismatch).
        using var crc = S3Checksums.Create("crc32");
        crc.Append(bytes);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/x-amz-json-1.0";
        context.Response.ContentLength = bytes.Length;
        context.Response.Headers["x-amz-crc32"] = BinaryPrimitives.ReadUInt32BigEndian(crc.GetDigest()).ToString(CultureInfo.InvariantCulture);
        await context.Response.Body.WriteAsync(bytes, CancellationToken.None);
    }

    private static async Task WriteErrorAsync(HttpContext context, DynamoDbException error)
    {
        if (!context.Response.HasStarted)
        {
            await WriteAsync(context, error.Status, new JsonObject { ["__type"] = error.Type, ["message"] = error.Message });
        }
    }

    /// <summary>A row read for a page: the item, its LastEvaluatedKey, and where the catalog resumes after it.</summary>
    private sealed record Candidate<TPosition>(JsonObject Item, JsonObject Key, TPosition Position);
}

/// <summary>What a read returns of each item: which items (the filter), which attributes (the projection), or only counts.</summary>
internal sealed record ReadShape(Condition? Filter, IReadOnlyList<DocumentPath>? Projection, bool CountOnly)
{
    public JsonObject Shape(JsonObject item) => Projection is null ? item : ResultItems.Project(item, Projection);
}

public static class DynamoDbSetup
{
    public static void AddDynamoDb(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<DynamoDbOptions>().Bind(configuration.GetSection(DynamoDbOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<DynamoDbApi>();
    }

    /// <summary>POST / whose X-Amz-Target is DynamoDB's; mapped before Rekognition's branch, which takes every other POST /.</summary>
    public static void MapDynamoDb(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.Services.GetRequiredService<IOptions<DynamoDbOptions>>().Value.Enabled)
        {
            app.MapAwsJson(target => target.StartsWith(DynamoDbApi.TargetPrefix, StringComparison.Ordinal), app.Services.GetRequiredService<DynamoDbApi>().HandleAsync);
        }
    }
}
