namespace LabelLens.Properties;

/// <summary>
/// The CSS named colours (CSS Color Module 4; 'grey' spellings and the aqua/fuchsia duplicates left out) and,
/// for each, the one of twelve simple colour names a person would use for it. A dominant colour is named after
/// its nearest CSS colour in CIELAB, and takes that colour's simple name.
/// </summary>
public static class NamedColors
{
    /// <summary>The twelve simple colour names <see cref="Labels.DominantColor.SimplifiedColor"/> takes.</summary>
    public static readonly IReadOnlyList<string> Simplified =
        ["red", "orange", "yellow", "green", "teal", "blue", "purple", "pink", "brown", "black", "white", "gray"];

    /// <summary>The CSS colour names <see cref="Labels.DominantColor.CSSColor"/> takes.</summary>
    public static IEnumerable<string> CssNames => All.Select(c => c.Name);

    /// <summary>Simple names people also type, mapped to the canonical one.</summary>
    public static string? CanonicalSimplified(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var lower = name.Trim().ToLowerInvariant();
        lower = lower switch
        {
            "grey" => "gray",
            "cyan" or "turquoise" => "teal",
            "violet" => "purple",
            _ => lower,
        };
        return Simplified.Contains(lower) ? lower : null;
    }

    internal static readonly (string Name, int Rgb, string Simple)[] All =
    [
        ("pink", 0xFFC0CB, "pink"), ("lightpink", 0xFFB6C1, "pink"), ("hotpink", 0xFF69B4, "pink"), ("deeppink", 0xFF1493, "pink"),
        ("palevioletred", 0xDB7093, "pink"), ("mediumvioletred", 0xC71585, "pink"),

        ("lightsalmon", 0xFFA07A, "orange"), ("salmon", 0xFA8072, "red"), ("darksalmon", 0xE9967A, "orange"), ("lightcoral", 0xF08080, "red"),
        ("indianred", 0xCD5C5C, "red"), ("crimson", 0xDC143C, "red"), ("firebrick", 0xB22222, "red"), ("darkred", 0x8B0000, "red"), ("red", 0xFF0000, "red"),

        ("orangered", 0xFF4500, "orange"), ("tomato", 0xFF6347, "red"), ("coral", 0xFF7F50, "orange"), ("darkorange", 0xFF8C00, "orange"), ("orange", 0xFFA500, "orange"),

        ("yellow", 0xFFFF00, "yellow"), ("lightyellow", 0xFFFFE0, "yellow"), ("lemonchiffon", 0xFFFACD, "yellow"), ("lightgoldenrodyellow", 0xFAFAD2, "yellow"),
        ("papayawhip", 0xFFEFD5, "yellow"), ("moccasin", 0xFFE4B5, "yellow"), ("peachpuff", 0xFFDAB9, "orange"), ("palegoldenrod", 0xEEE8AA, "yellow"),
        ("khaki", 0xF0E68C, "yellow"), ("darkkhaki", 0xBDB76B, "yellow"), ("gold", 0xFFD700, "yellow"),

        ("navajowhite", 0xFFDEAD, "brown"), ("wheat", 0xF5DEB3, "brown"), ("burlywood", 0xDEB887, "brown"), ("tan", 0xD2B48C, "brown"), ("rosybrown", 0xBC8F8F, "brown"),
        ("sandybrown", 0xF4A460, "brown"), ("goldenrod", 0xDAA520, "yellow"), ("darkgoldenrod", 0xB8860B, "brown"), ("peru", 0xCD853F, "brown"), ("chocolate", 0xD2691E, "orange"),
        ("saddlebrown", 0x8B4513, "brown"), ("sienna", 0xA0522D, "brown"), ("brown", 0xA52A2A, "brown"), ("maroon", 0x800000, "brown"),

        ("darkolivegreen", 0x556B2F, "green"), ("olive", 0x808000, "green"), ("olivedrab", 0x6B8E23, "green"), ("yellowgreen", 0x9ACD32, "green"), ("limegreen", 0x32CD32, "green"),
        ("lime", 0x00FF00, "green"), ("lawngreen", 0x7CFC00, "green"), ("chartreuse", 0x7FFF00, "green"), ("greenyellow", 0xADFF2F, "green"), ("springgreen", 0x00FF7F, "green"),
        ("mediumspringgreen", 0x00FA9A, "green"), ("lightgreen", 0x90EE90, "green"), ("palegreen", 0x98FB98, "green"), ("darkseagreen", 0x8FBC8F, "green"),
        ("mediumaquamarine", 0x66CDAA, "teal"), ("mediumseagreen", 0x3CB371, "green"), ("seagreen", 0x2E8B57, "green"), ("forestgreen", 0x228B22, "green"),
        ("green", 0x008000, "green"), ("darkgreen", 0x006400, "green"),

        ("cyan", 0x00FFFF, "teal"), ("lightcyan", 0xE0FFFF, "teal"), ("paleturquoise", 0xAFEEEE, "teal"), ("aquamarine", 0x7FFFD4, "teal"), ("turquoise", 0x40E0D0, "teal"),
        ("mediumturquoise", 0x48D1CC, "teal"), ("darkturquoise", 0x00CED1, "teal"), ("lightseagreen", 0x20B2AA, "teal"), ("cadetblue", 0x5F9EA0, "teal"),
        ("darkcyan", 0x008B8B, "teal"), ("teal", 0x008080, "teal"),

        ("lightsteelblue", 0xB0C4DE, "blue"), ("powderblue", 0xB0E0E6, "blue"), ("lightblue", 0xADD8E6, "blue"), ("skyblue", 0x87CEEB, "blue"), ("lightskyblue", 0x87CEFA, "blue"),
        ("deepskyblue", 0x00BFFF, "blue"), ("dodgerblue", 0x1E90FF, "blue"), ("cornflowerblue", 0x6495ED, "blue"), ("steelblue", 0x4682B4, "blue"), ("royalblue", 0x4169E1, "blue"),
        ("blue", 0x0000FF, "blue"), ("mediumblue", 0x0000CD, "blue"), ("darkblue", 0x00008B, "blue"), ("navy", 0x000080, "blue"), ("midnightblue", 0x191970, "blue"),

        ("lavender", 0xE6E6FA, "purple"), ("thistle", 0xD8BFD8, "purple"), ("plum", 0xDDA0DD, "purple"), ("violet", 0xEE82EE, "purple"), ("orchid", 0xDA70D6, "purple"),
        ("magenta", 0xFF00FF, "purple"), ("mediumorchid", 0xBA55D3, "purple"), ("mediumpurple", 0x9370DB, "purple"), ("blueviolet", 0x8A2BE2, "purple"),
        ("darkviolet", 0x9400D3, "purple"), ("darkorchid", 0x9932CC, "purple"), ("darkmagenta", 0x8B008B, "purple"), ("purple", 0x800080, "purple"),
        ("rebeccapurple", 0x663399, "purple"), ("indigo", 0x4B0082, "purple"), ("darkslateblue", 0x483D8B, "purple"), ("slateblue", 0x6A5ACD, "purple"),
        ("mediumslateblue", 0x7B68EE, "purple"),

        ("white", 0xFFFFFF, "white"), ("snow", 0xFFFAFA, "white"), ("honeydew", 0xF0FFF0, "white"), ("mintcream", 0xF5FFFA, "white"), ("azure", 0xF0FFFF, "white"),
        ("aliceblue", 0xF0F8FF, "white"), ("ghostwhite", 0xF8F8FF, "white"), ("whitesmoke", 0xF5F5F5, "white"), ("seashell", 0xFFF5EE, "white"), ("beige", 0xF5F5DC, "white"),
        ("oldlace", 0xFDF5E6, "white"), ("floralwhite", 0xFFFAF0, "white"), ("ivory", 0xFFFFF0, "white"), ("antiquewhite", 0xFAEBD7, "white"), ("linen", 0xFAF0E6, "white"),
        ("lavenderblush", 0xFFF0F5, "white"), ("mistyrose", 0xFFE4E1, "pink"), ("cornsilk", 0xFFF8DC, "white"), ("blanchedalmond", 0xFFEBCD, "white"), ("bisque", 0xFFE4C4, "white"),

        ("gainsboro", 0xDCDCDC, "gray"), ("lightgray", 0xD3D3D3, "gray"), ("silver", 0xC0C0C0, "gray"), ("darkgray", 0xA9A9A9, "gray"), ("gray", 0x808080, "gray"),
        ("dimgray", 0x696969, "gray"), ("lightslategray", 0x778899, "gray"), ("slategray", 0x708090, "gray"), ("darkslategray", 0x2F4F4F, "gray"),

        ("black", 0x000000, "black"),
    ];

    private static readonly (string Name, string Simple, Lab Lab)[] Table =
        All.Select(c => (c.Name, c.Simple, Lab.FromRgb((byte)(c.Rgb >> 16), (byte)(c.Rgb >> 8), (byte)c.Rgb))).ToArray();

    /// <summary>The nearest CSS named colour (CIE76 distance in CIELAB) and its simple name.</summary>
    public static (string Css, string Simplified) Nearest(Lab color)
    {
        var best = 0;
        var bestDistance = double.MaxValue;
        for (var i = 0; i < Table.Length; i++)
        {
            var distance = color.DistanceSquared(Table[i].Lab);
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = i;
            }
        }

        return (Table[best].Name, Table[best].Simple);
    }
}

/// <summary>A CIELAB colour (D65 white), where Euclidean distance roughly follows perceived difference.</summary>
public readonly record struct Lab(float L, float A, float B)
{
    private static readonly float[] Linear = Enumerable.Range(0, 256).Select(i =>
    {
        var c = i / 255.0;
        return (float)(c <= 0.04045 ? c / 12.92 : Math.Pow((c + 0.055) / 1.055, 2.4));
    }).ToArray();

    public static Lab FromRgb(byte red, byte green, byte blue)
    {
        var r = Linear[red];
        var g = Linear[green];
        var b = Linear[blue];
        var x = ((0.4124564f * r) + (0.3575761f * g) + (0.1804375f * b)) / 0.95047f;
        var y = (0.2126729f * r) + (0.7151522f * g) + (0.0721750f * b);
        var z = ((0.0193339f * r) + (0.1191920f * g) + (0.9503041f * b)) / 1.08883f;
        var fx = F(x);
        var fy = F(y);
        var fz = F(z);
        return new Lab((116 * fy) - 16, 500 * (fx - fy), 200 * (fy - fz));
    }

    public float DistanceSquared(Lab other)
    {
        var dl = L - other.L;
        var da = A - other.A;
        var db = B - other.B;
        return (dl * dl) + (da * da) + (db * db);
    }

    private static float F(float t) => t > 0.008856f ? MathF.Cbrt(t) : (7.787f * t) + (16f / 116f);
}
