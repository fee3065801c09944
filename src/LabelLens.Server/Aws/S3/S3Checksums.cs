using System.Buffers.Binary;
using System.Security.Cryptography;

namespace LabelLens.Server.Aws.S3;

/// <summary>A running checksum of a body: the algorithms S3 accepts in x-amz-checksum-* and Content-MD5.</summary>
public interface IS3Checksum : IDisposable
{
    void Append(ReadOnlySpan<byte> data);

    /// <summary>The digest, as S3 sends it in headers (big-endian bytes).</summary>
    byte[] GetDigest();
}

public static class S3Checksums
{
    /// <summary>The algorithms of x-amz-checksum-*, by lowercase name.</summary>
    public static readonly IReadOnlyList<string> Algorithms = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

    public static IS3Checksum Create(string algorithm) => algorithm.ToUpperInvariant() switch
    {
        "CRC32" => new Crc32Checksum(Crc32Checksum.IeeeTable),
        "CRC32C" => new Crc32Checksum(Crc32Checksum.CastagnoliTable),
        "CRC64NVME" => new Crc64NvmeChecksum(),
        "SHA1" => new HashChecksum(HashAlgorithmName.SHA1),
        "SHA256" => new HashChecksum(HashAlgorithmName.SHA256),
        "MD5" => new HashChecksum(HashAlgorithmName.MD5),
        _ => throw S3Exception.InvalidArgument($"Unknown checksum algorithm '{algorithm}'."),
    };

    public static bool IsKnown(string algorithm) => Algorithms.Contains(algorithm.ToLowerInvariant()) || algorithm.Equals("md5", StringComparison.OrdinalIgnoreCase);

    private sealed class HashChecksum(HashAlgorithmName name) : IS3Checksum
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(name);

        public void Append(ReadOnlySpan<byte> data) => _hash.AppendData(data);

        public byte[] GetDigest() => _hash.GetHashAndReset();

        public void Dispose() => _hash.Dispose();
    }

    /// <summary>Reflected CRC-32, slicing by 8 (IEEE for CRC32, Castagnoli for CRC32C).</summary>
    private sealed class Crc32Checksum(uint[][] tables) : IS3Checksum
    {
        public static readonly uint[][] IeeeTable = Tables(0xEDB88320u);
        public static readonly uint[][] CastagnoliTable = Tables(0x82F63B78u);

        private uint _crc = 0xFFFFFFFFu;

        public void Append(ReadOnlySpan<byte> data)
        {
            var crc = _crc;
            var t = tables;
            while (data.Length >= 8)
            {
                var one = BinaryPrimitives.ReadUInt32LittleEndian(data) ^ crc;
                var two = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
                crc = t[7][one & 0xFF] ^ t[6][(one >> 8) & 0xFF] ^ t[5][(one >> 16) & 0xFF] ^ t[4][one >> 24]
                    ^ t[3][two & 0xFF] ^ t[2][(two >> 8) & 0xFF] ^ t[1][(two >> 16) & 0xFF] ^ t[0][two >> 24];
                data = data[8..];
            }

            foreach (var b in data)
            {
                crc = t[0][(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            _crc = crc;
        }

        public byte[] GetDigest()
        {
            var digest = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(digest, ~_crc);
            return digest;
        }

        public void Dispose()
        {
        }

        private static uint[][] Tables(uint polynomial)
        {
            var tables = new uint[8][];
            for (var k = 0; k < 8; k++)
            {
                tables[k] = new uint[256];
            }

            for (uint i = 0; i < 256; i++)
            {
                var c = i;
                for (var j = 0; j < 8; j++)
                {
                    c = (c & 1) != 0 ? (c >> 1) ^ polynomial : c >> 1;
                }

                tables[0][i] = c;
            }

            for (var i = 0; i < 256; i++)
            {
                for (var k = 1; k < 8; k++)
                {
                    tables[k][i] = (tables[k - 1][i] >> 8) ^ tables[0][tables[k - 1][i] & 0xFF];
                }
            }

            return tables;
        }
    }

    /// <summary>Reflected CRC-64/NVME, slicing by 8.</summary>
    private sealed class Crc64NvmeChecksum : IS3Checksum
    {
        private static readonly ulong[][] Tables = BuildTables(0x9A6C9329AC4BC9B5ul);

        private ulong _crc = ulong.MaxValue;

        public void Append(ReadOnlySpan<byte> data)
        {
            var crc = _crc;
            var t = Tables;
            while (data.Length >= 8)
            {
                var v = BinaryPrimitives.ReadUInt64LittleEndian(data) ^ crc;
                crc = t[7][v & 0xFF] ^ t[6][(v >> 8) & 0xFF] ^ t[5][(v >> 16) & 0xFF] ^ t[4][(v >> 24) & 0xFF]
                    ^ t[3][(v >> 32) & 0xFF] ^ t[2][(v >> 40) & 0xFF] ^ t[1][(v >> 48) & 0xFF] ^ t[0][v >> 56];
                data = data[8..];
            }

            foreach (var b in data)
            {
                crc = t[0][(crc ^ b) & 0xFF] ^ (crc >> 8);
            }

            _crc = crc;
        }

        public byte[] GetDigest()
        {
            var digest = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(digest, ~_crc);
            return digest;
        }

        public void Dispose()
        {
        }

        private static ulong[][] BuildTables(ulong polynomial)
        {
            var tables = new ulong[8][];
            for (var k = 0; k < 8; k++)
            {
                tables[k] = new ulong[256];
            }

            for (ulong i = 0; i < 256; i++)
            {
                var c = i;
                for (var j = 0; j < 8; j++)
                {
                    c = (c & 1) != 0 ? (c >> 1) ^ polynomial : c >> 1;
                }

                tables[0][i] = c;
            }

            for (var i = 0; i < 256; i++)
            {
                for (var k = 1; k < 8; k++)
                {
                    tables[k][i] = (tables[k - 1][i] >> 8) ^ tables[0][tables[k - 1][i] & 0xFF];
                }
            }

            return tables;
        }
    }
}
