using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Microsoft.AspNetCore.Http;

namespace LabelLens.Server.Aws.S3;

/// <summary>S3's XML: responses in the 2006-03-01 namespace, and request documents parsed safely (no DTDs, bounded size).</summary>
public static class S3Xml
{
    public static readonly XNamespace Ns = "http://s3.amazonaws.com/doc/2006-03-01/";

    public static XElement E(string name, params object?[] content) => new(Ns + name, content);

    public static string Date(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static string Bool(bool value) => value ? "true" : "false";

    public static XElement Owner(string name = "Owner") => E(name, E("ID", "labellens"), E("DisplayName", "labellens"));

    public static async Task WriteAsync(HttpContext context, XElement root, int status = StatusCodes.Status200OK)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(root);
        var bytes = Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + root.ToString(SaveOptions.DisableFormatting));
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/xml";
        context.Response.ContentLength = bytes.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
        }
    }

    /// <summary>An S3 error document: Code, Message, Resource, RequestId (no body for HEAD, as S3).</summary>
    public static Task WriteErrorAsync(HttpContext context, S3Exception error, string requestId)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(error);
        var resource = S3Request.RawPath(context);
        var root = new XElement(
            "Error",
            new XElement("Code", error.Code),
            new XElement("Message", error.Message),
            new XElement("Resource", resource),
            new XElement("RequestId", requestId));
        return WriteAsync(context, root, error.Status);
    }

    /// <summary>Parses a request document; anything not well-formed (or with a DTD) is MalformedXML.</summary>
    public static XElement Parse(byte[] document, string expectedRoot)
    {
        ArgumentNullException.ThrowIfNull(document);
        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            MaxCharactersInDocument = 8 * 1024 * 1024,
            IgnoreComments = true,
            IgnoreProcessingInstructions = true,
        };
        try
        {
            using var stream = new MemoryStream(document);
            using var reader = XmlReader.Create(stream, settings);
            var root = XElement.Load(reader);
            if (root.Name.LocalName != expectedRoot)
            {
                throw S3Exception.MalformedXml($"The XML document's root element must be <{expectedRoot}>.");
            }

            return root;
        }
        catch (XmlException)
        {
            throw S3Exception.MalformedXml();
        }
    }

    /// <summary>Children of <paramref name="parent"/> with this local name, whatever their namespace.</summary>
    public static IEnumerable<XElement> Children(XElement parent, string name)
    {
        ArgumentNullException.ThrowIfNull(parent);
        return parent.Elements().Where(e => e.Name.LocalName == name);
    }

    public static string? Child(XElement parent, string name) => Children(parent, name).FirstOrDefault()?.Value;
}
