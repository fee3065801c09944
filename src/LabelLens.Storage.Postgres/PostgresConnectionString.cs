using System.Globalization;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>
/// Connection strings as people write them for PostgreSQL: a libpq URL (<c>postgresql://user:pass@host:5432/db?sslmode=require</c>,
/// what <c>psql</c> takes and LABELLENS_CATALOG carries) or Npgsql's own <c>Host=...;Username=...</c> form.
/// </summary>
public static class PostgresConnectionString
{
    /// <summary>True for a libpq URL (postgresql:// or postgres://).</summary>
    public static bool IsUrl(string value) =>
        value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Npgsql's form of <paramref name="value"/>; a URL is translated (user, password, host, port, database, sslmode, connect_timeout, application_name).</summary>
    public static string ToNpgsql(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        if (!IsUrl(value))
        {
            return new NpgsqlConnectionStringBuilder(value).ConnectionString;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new FormatException($"'{value}' is not a PostgreSQL URL (postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE).");
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host.Length > 0 ? Uri.UnescapeDataString(uri.Host) : "localhost",
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
        };
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            builder.Username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            if (colon >= 0)
            {
                builder.Password = Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            }
        }
        else
        {
            builder.Username = Environment.GetEnvironmentVariable("PGUSER") ?? Environment.UserName;
        }

        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        builder.Database = database.Length > 0 ? database : builder.Username;
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            var setting = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            switch (name)
            {
                case "sslmode":
                    builder.SslMode = Enum.Parse<SslMode>(setting.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
                    break;
                case "connect_timeout":
                    builder.Timeout = int.Parse(setting, CultureInfo.InvariantCulture);
                    break;
                case "application_name":
                    builder.ApplicationName = setting;
                    break;
                case "password":
                    builder.Password = setting;
                    break;
                case "user":
                    builder.Username = setting;
                    break;
                case "host":
                    // libpq's way to give a Unix socket folder: postgresql:///db?host=/var/run/postgresql
                    builder.Host = setting;
                    break;
                case "port":
                    builder.Port = int.Parse(setting, CultureInfo.InvariantCulture);
                    break;
                default:
                    throw new FormatException($"PostgreSQL URL parameter '{name}' is not supported here (sslmode, connect_timeout, application_name, user, password, host, port are).");
            }
        }

        return builder.ConnectionString;
    }
}
