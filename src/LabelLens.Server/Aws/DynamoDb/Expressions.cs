using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;

// The expression language and the item mapping are tested directly, without a server.
[assembly: InternalsVisibleTo("LabelLens.Tests")]

namespace LabelLens.Server.Aws.DynamoDb;

/// <summary>
/// The #name and :value placeholders of one request (ExpressionAttributeNames / ExpressionAttributeValues), and
/// which of them its expressions used: DynamoDB refuses a request that defines one it does not use.
/// </summary>
internal sealed class ExpressionAttributes
{
    private readonly IReadOnlyDictionary<string, string> _names;
    private readonly IReadOnlyDictionary<string, JsonObject> _values;
    private readonly HashSet<string> _usedNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _usedValues = new(StringComparer.Ordinal);

    public ExpressionAttributes(IReadOnlyDictionary<string, string>? names, IReadOnlyDictionary<string, JsonObject>? values)
    {
        _names = names ?? new Dictionary<string, string>();
        _values = values ?? new Dictionary<string, JsonObject>();
    }

    public string Name(string placeholder, string expression)
    {
        if (!_names.TryGetValue(placeholder, out var name))
        {
            throw DynamoDbException.Validation($"Invalid {expression}: An expression attribute name used in the document path is not defined; attribute name: {placeholder}");
        }

        _usedNames.Add(placeholder);
        return name;
    }

    public JsonObject Value(string placeholder, string expression)
    {
        if (!_values.TryGetValue(placeholder, out var value))
        {
            throw DynamoDbException.Validation($"Invalid {expression}: An expression attribute value used in expression is not defined; attribute value: {placeholder}");
        }

        _usedValues.Add(placeholder);
        return value;
    }

    /// <summary>After every expression of the request is parsed.</summary>
    public void CheckAllUsed()
    {
        var names = _names.Keys.Where(k => !_usedNames.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (names.Count > 0)
        {
            throw DynamoDbException.Validation($"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{string.Join(", ", names)}}}");
        }

        var values = _values.Keys.Where(k => !_usedValues.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (values.Count > 0)
        {
            throw DynamoDbException.Validation($"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{string.Join(", ", values)}}}");
        }
    }
}

/// <summary>A document path: an attribute, then map members (.Name) and list elements ([0]).</summary>
internal sealed record DocumentPath(IReadOnlyList<object> Elements)
{
    public string Attribute => (string)Elements[0];

    /// <summary>The value at the path, or null when the item has none there.</summary>
    public JsonObject? Resolve(JsonObject item)
    {
        JsonObject? current = item.TryGetPropertyValue(Attribute, out var top) ? top as JsonObject : null;
        foreach (var element in Elements.Skip(1))
        {
            current = (element, current) switch
            {
                (string member, { } map) when AttributeValues.TypeOf(map) == "M" => map["M"]!.AsObject().TryGetPropertyValue(member, out var next) ? next as JsonObject : null,
                (int index, { } list) when AttributeValues.TypeOf(list) == "L" && index < list["L"]!.AsArray().Count => list["L"]![index] as JsonObject,
                _ => null,
            };
        }

        return current;
    }

    public override string ToString() => "[" + string.Join(", ", Elements.Select(e => e is int i ? $"[{i.ToString(CultureInfo.InvariantCulture)}]" : (string)e)) + "]";
}

/// <summary>A condition of a FilterExpression or KeyConditionExpression, evaluated on an item.</summary>
internal abstract record Condition
{
    public abstract bool Evaluate(JsonObject item);

    /// <summary>Every document path the condition reads.</summary>
    public abstract IEnumerable<DocumentPath> Paths { get; }
}

internal sealed record AndCondition(Condition Left, Condition Right) : Condition
{
    public override bool Evaluate(JsonObject item) => Left.Evaluate(item) && Right.Evaluate(item);

    public override IEnumerable<DocumentPath> Paths => Left.Paths.Concat(Right.Paths);
}

internal sealed record OrCondition(Condition Left, Condition Right) : Condition
{
    public override bool Evaluate(JsonObject item) => Left.Evaluate(item) || Right.Evaluate(item);

    public override IEnumerable<DocumentPath> Paths => Left.Paths.Concat(Right.Paths);
}

internal sealed record NotCondition(Condition Inner) : Condition
{
    public override bool Evaluate(JsonObject item) => !Inner.Evaluate(item);

    public override IEnumerable<DocumentPath> Paths => Inner.Paths;
}

/// <summary>= &lt;&gt; &lt; &lt;= &gt; &gt;=. A missing attribute equals nothing (so &lt;&gt; is true) and orders against nothing.</summary>
internal sealed record Comparison(Operand Left, string Operator, Operand Right) : Condition
{
    public override bool Evaluate(JsonObject item)
    {
        var (left, right) = (Left.Resolve(item), Right.Resolve(item));
        if (Operator is "=" or "<>")
        {
            var equal = left is not null && right is not null && AttributeValues.Equal(left, right);
            return Operator == "=" ? equal : !equal;
        }

        if (left is null || right is null || AttributeValues.Compare(left, right) is not { } order)
        {
            return false;
        }

        return Operator switch
        {
            "<" => order < 0,
            "<=" => order <= 0,
            ">" => order > 0,
            _ => order >= 0,
        };
    }

    public override IEnumerable<DocumentPath> Paths => Left.Paths.Concat(Right.Paths);
}

internal sealed record Between(Operand Value, Operand Low, Operand High) : Condition
{
    public override bool Evaluate(JsonObject item) =>
        Value.Resolve(item) is { } value && Low.Resolve(item) is { } low && High.Resolve(item) is { } high
        && AttributeValues.Compare(value, low) >= 0 && AttributeValues.Compare(value, high) <= 0;

    public override IEnumerable<DocumentPath> Paths => Value.Paths.Concat(Low.Paths).Concat(High.Paths);
}

internal sealed record InList(Operand Value, IReadOnlyList<Operand> Options) : Condition
{
    public override bool Evaluate(JsonObject item) =>
        Value.Resolve(item) is { } value && Options.Any(o => o.Resolve(item) is { } option && AttributeValues.Equal(value, option));

    public override IEnumerable<DocumentPath> Paths => Value.Paths.Concat(Options.SelectMany(o => o.Paths));
}

/// <summary>attribute_exists, attribute_not_exists, attribute_type, begins_with, contains.</summary>
internal sealed record FunctionCondition(string Function, PathOperand Path, Operand? Argument) : Condition
{
    public override bool Evaluate(JsonObject item)
    {
        var value = Path.Resolve(item);
        var argument = Argument?.Resolve(item);
        switch (Function)
        {
            case "attribute_exists":
                return value is not null;
            case "attribute_not_exists":
                return value is null;
            case "attribute_type":
                return value is not null && AttributeValues.TypeOf(value) == AttributeValues.String(argument);
            case "begins_with":
                if (value is null || argument is null || AttributeValues.TypeOf(value) != AttributeValues.TypeOf(argument) || AttributeValues.TypeOf(value) is not ("S" or "B"))
                {
                    return false;
                }

                var type = AttributeValues.TypeOf(value);
                return AttributeValues.Bytes(value, type).AsSpan().StartsWith(AttributeValues.Bytes(argument, type));
            default:
                return value is not null && argument is not null && Contains(value, argument);
        }
    }

    public override IEnumerable<DocumentPath> Paths => Path.Paths.Concat(Argument?.Paths ?? []);

    /// <summary>A substring of a string, a member of a set (of the argument's type), an element of a list.</summary>
    private static bool Contains(JsonObject value, JsonObject argument)
    {
        var (type, argumentType) = (AttributeValues.TypeOf(value), AttributeValues.TypeOf(argument));
        return (type, argumentType) switch
        {
            ("S", "S") => value["S"]!.GetValue<string>().Contains(argument["S"]!.GetValue<string>(), StringComparison.Ordinal),
            ("SS", "S") or ("BS", "B") => value[type]!.AsArray().Any(m => m!.GetValue<string>() == argument[argumentType]!.GetValue<string>()),
            ("NS", "N") => value["NS"]!.AsArray().Any(m => AttributeValues.Equal(new JsonObject { ["N"] = m!.GetValue<string>() }, argument)),
            ("L", _) => value["L"]!.AsArray().Any(e => e is JsonObject element && AttributeValues.Equal(element, argument)),
            _ => false,
        };
    }
}

/// <summary>What a comparison or function reads: a document path, a :value, or size(path).</summary>
internal abstract record Operand
{
    public abstract JsonObject? Resolve(JsonObject item);

    public abstract IEnumerable<DocumentPath> Paths { get; }
}

internal sealed record PathOperand(DocumentPath Path) : Operand
{
    public override JsonObject? Resolve(JsonObject item) => Path.Resolve(item);

    public override IEnumerable<DocumentPath> Paths => [Path];
}

internal sealed record ValueOperand(string Placeholder, JsonObject Value) : Operand
{
    public override JsonObject? Resolve(JsonObject item) => Value;

    public override IEnumerable<DocumentPath> Paths => [];
}

internal sealed record SizeOperand(DocumentPath Path) : Operand
{
    public override JsonObject? Resolve(JsonObject item) =>
        Path.Resolve(item) is { } value && AttributeValues.Size(value) is { } size ? AttributeValues.N(size) : null;

    public override IEnumerable<DocumentPath> Paths => [Path];
}

/// <summary>
/// DynamoDB's expression language, strictly: conditions (comparisons, BETWEEN, IN, the functions, NOT, AND, OR,
/// parentheses, with DynamoDB's precedence) and projections (document paths separated by commas). Attribute
/// names are bare identifiers or #placeholders; values are always :placeholders. Reserved words are not
/// refused (DynamoDB does; code that works there works here).
/// </summary>
internal sealed class ExpressionParser
{
    private const int MaxInOperands = 100;
    private static readonly string[] ConditionFunctions = ["attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"];
    private static readonly string[] TypeNames = ["S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M"];

    private readonly string _text;
    private readonly string _expression;
    private readonly ExpressionAttributes _attributes;
    private readonly List<Token> _tokens;
    private int _next;

    private ExpressionParser(string text, string expression, ExpressionAttributes attributes)
    {
        _text = text;
        _expression = expression;
        _attributes = attributes;
        if (text.Trim().Length == 0)
        {
            throw DynamoDbException.Validation($"Invalid {expression}: The expression can not be empty;");
        }

        _tokens = Tokenize();
    }

    private enum Kind
    {
        Identifier,
        Name,
        Value,
        Number,
        Symbol,
        End,
    }

    /// <summary>A FilterExpression or KeyConditionExpression (<paramref name="expression"/> names it in errors).</summary>
    public static Condition ParseCondition(string text, string expression, ExpressionAttributes attributes)
    {
        var parser = new ExpressionParser(text, expression, attributes);
        var condition = parser.Or();
        parser.ExpectEnd();
        return condition;
    }

    /// <summary>A ProjectionExpression: one or more paths, none inside another.</summary>
    public static IReadOnlyList<DocumentPath> ParseProjection(string text, ExpressionAttributes attributes)
    {
        var parser = new ExpressionParser(text, "ProjectionExpression", attributes);
        var paths = new List<DocumentPath> { parser.Path() };
        while (parser.Accept(","))
        {
            paths.Add(parser.Path());
        }

        parser.ExpectEnd();
        for (var i = 0; i < paths.Count; i++)
        {
            for (var j = i + 1; j < paths.Count; j++)
            {
                parser.CheckDisjoint(paths[i], paths[j]);
            }
        }

        return paths;
    }

    private Condition Or()
    {
        var condition = And();
        while (AcceptKeyword("OR"))
        {
            condition = new OrCondition(condition, And());
        }

        return condition;
    }

    private Condition And()
    {
        var condition = Not();
        while (AcceptKeyword("AND"))
        {
            condition = new AndCondition(condition, Not());
        }

        return condition;
    }

    private Condition Not() => AcceptKeyword("NOT") ? new NotCondition(Not()) : Primary();

    private Condition Primary()
    {
        if (Accept("("))
        {
            var inner = Or();
            Expect(")");
            return inner;
        }

        var token = Peek();
        if (token.Kind == Kind.Identifier && PeekAt(1).Text == "(" && token.Text != "size")
        {
            return Function();
        }

        var left = Operand();
        if (AcceptKeyword("BETWEEN"))
        {
            var low = Operand();
            Expect("AND", keyword: true);
            var high = Operand();
            if (low is ValueOperand { Value: var l } && high is ValueOperand { Value: var h })
            {
                if (AttributeValues.Compare(l, h) is not { } order)
                {
                    throw Invalid("The BETWEEN operator requires same data type for lower and upper bounds");
                }

                if (order > 0)
                {
                    throw Invalid("The BETWEEN operator requires upper bound to be greater than or equal to lower bound");
                }
            }

            return new Between(left, low, high);
        }

        if (AcceptKeyword("IN"))
        {
            Expect("(");
            var options = new List<Operand> { Operand() };
            while (Accept(","))
            {
                options.Add(Operand());
            }

            Expect(")");
            if (options.Count > MaxInOperands)
            {
                throw Invalid($"The IN operator is provided with too many operands; number of operands: {options.Count}");
            }

            return new InList(left, options);
        }

        var comparator = Peek();
        if (comparator.Kind == Kind.Symbol && comparator.Text is "=" or "<>" or "<" or "<=" or ">" or ">=")
        {
            _next++;
            return new Comparison(left, comparator.Text, Operand());
        }

        throw Syntax(comparator);
    }

    private FunctionCondition Function()
    {
        var name = Take();
        if (!ConditionFunctions.Contains(name.Text, StringComparer.Ordinal))
        {
            throw Invalid($"Invalid function name; function: {name.Text}");
        }

        Expect("(");
        var arguments = new List<Operand> { Operand() };
        while (Accept(","))
        {
            arguments.Add(Operand());
        }

        Expect(")");
        var expected = name.Text is "attribute_exists" or "attribute_not_exists" ? 1 : 2;
        if (arguments.Count != expected)
        {
            throw Invalid($"Incorrect number of operands for operator or function; operator or function: {name.Text}, number of operands: {arguments.Count}");
        }

        if (arguments[0] is not PathOperand path)
        {
            throw Invalid($"Operator or function requires a document path; operator or function: {name.Text}");
        }

        var argument = expected == 2 ? arguments[1] : null;
        if (name.Text == "attribute_type")
        {
            if (argument is not ValueOperand { Value: var type } || AttributeValues.String(type) is not { } typeName)
            {
                throw Invalid("Incorrect operand type for operator or function; operator or function: attribute_type, operand type: the type must be a string value");
            }

            if (!TypeNames.Contains(typeName, StringComparer.Ordinal))
            {
                throw Invalid($"Invalid attribute type name found; type: {typeName}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}");
            }
        }

        return new FunctionCondition(name.Text, path, argument);
    }

    private Operand Operand()
    {
        var token = Peek();
        if (token.Kind == Kind.Value)
        {
            _next++;
            return new ValueOperand(token.Text, _attributes.Value(token.Text, _expression));
        }

        if (token.Kind == Kind.Identifier && PeekAt(1).Text == "(")
        {
            if (token.Text != "size")
            {
                throw ConditionFunctions.Contains(token.Text, StringComparer.Ordinal)
                    ? Invalid($"The function is not allowed to be used this way in an expression; function: {token.Text}")
                    : Invalid($"Invalid function name; function: {token.Text}");
            }

            _next += 2;
            var argument = Operand();
            Expect(")");
            return argument is PathOperand path
                ? new SizeOperand(path.Path)
                : throw Invalid("Operator or function requires a document path; operator or function: size");
        }

        return new PathOperand(Path());
    }

    private DocumentPath Path()
    {
        var elements = new List<object> { PathName() };
        while (true)
        {
            if (Accept("."))
            {
                elements.Add(PathName());
            }
            else if (Accept("["))
            {
                var index = Take();
                if (index.Kind != Kind.Number || !int.TryParse(index.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var position))
                {
                    throw Syntax(index);
                }

                Expect("]");
                elements.Add(position);
            }
            else
            {
                return new DocumentPath(elements);
            }
        }
    }

    private string PathName()
    {
        var token = Take();
        return token.Kind switch
        {
            Kind.Identifier => token.Text,
            Kind.Name => _attributes.Name(token.Text, _expression),
            _ => throw Syntax(token),
        };
    }

    private void CheckDisjoint(DocumentPath a, DocumentPath b)
    {
        var shared = Math.Min(a.Elements.Count, b.Elements.Count);
        for (var i = 0; i < shared; i++)
        {
            if (a.Elements[i].Equals(b.Elements[i]))
            {
                continue;
            }

            if (a.Elements[i].GetType() != b.Elements[i].GetType())
            {
                throw Invalid($"Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {a}, path two: {b}");
            }

            return;
        }

        throw Invalid($"Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {a}, path two: {b}");
    }

    private List<Token> Tokenize()
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < _text.Length)
        {
            var c = _text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            var start = i;
            if (c is '#' or ':' || char.IsAsciiLetter(c))
            {
                i++;
                while (i < _text.Length && (char.IsAsciiLetterOrDigit(_text[i]) || _text[i] == '_'))
                {
                    i++;
                }

                if (c is '#' or ':' && i == start + 1)
                {
                    throw Syntax(new Token(Kind.Symbol, c.ToString(), start));
                }

                tokens.Add(new Token(c switch { '#' => Kind.Name, ':' => Kind.Value, _ => Kind.Identifier }, _text[start..i], start));
            }
            else if (char.IsAsciiDigit(c))
            {
                while (i < _text.Length && char.IsAsciiDigit(_text[i]))
                {
                    i++;
                }

                tokens.Add(new Token(Kind.Number, _text[start..i], start));
            }
            else if (c is '<' or '>' && i + 1 < _text.Length && (_text[i + 1] == '=' || (c == '<' && _text[i + 1] == '>')))
            {
                tokens.Add(new Token(Kind.Symbol, _text.Substring(i, 2), start));
                i += 2;
            }
            else if (c is '=' or '<' or '>' or '(' or ')' or '[' or ']' or ',' or '.')
            {
                tokens.Add(new Token(Kind.Symbol, c.ToString(), start));
                i++;
            }
            else
            {
                throw Syntax(new Token(Kind.Symbol, c.ToString(), start));
            }
        }

        tokens.Add(new Token(Kind.End, "<EOF>", _text.Length));
        return tokens;
    }

    private Token Peek() => _tokens[_next];

    private Token PeekAt(int ahead) => _tokens[Math.Min(_next + ahead, _tokens.Count - 1)];

    private Token Take()
    {
        var token = _tokens[_next];
        if (token.Kind != Kind.End)
        {
            _next++;
        }

        return token;
    }

    /// <summary>Takes the next token when it is <paramref name="text"/>: a symbol exactly, a keyword (AND, OR, NOT, BETWEEN, IN) in any case.</summary>
    private bool Accept(string text, bool keyword = false)
    {
        var token = Peek();
        var matches = keyword
            ? token.Kind == Kind.Identifier && token.Text.Equals(text, StringComparison.OrdinalIgnoreCase)
            : token.Kind == Kind.Symbol && token.Text == text;
        if (matches)
        {
            _next++;
        }

        return matches;
    }

    private void Expect(string text, bool keyword = false)
    {
        if (!Accept(text, keyword))
        {
            throw Syntax(Peek());
        }
    }

    private bool AcceptKeyword(string keyword) => Accept(keyword, keyword: true);

    private void ExpectEnd()
    {
        if (Peek().Kind != Kind.End)
        {
            throw Syntax(Peek());
        }
    }

    private DynamoDbException Syntax(Token token)
    {
        var from = Math.Max(0, token.Position - 10);
        var near = _text[from..Math.Min(_text.Length, token.Position + Math.Max(token.Text.Length, 1) + 10)];
        return Invalid($"Syntax error; token: \"{AttributeValues.Printable(token.Text)}\", near: \"{AttributeValues.Printable(near)}\"");
    }

    private DynamoDbException Invalid(string reason) => DynamoDbException.Validation($"Invalid {_expression}: {reason}");

    private readonly record struct Token(Kind Kind, string Text, int Position);
}
