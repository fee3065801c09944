using LabelLens.Analysis;
using LabelLens.Labels;

namespace LabelLens.Video;

/// <summary>
/// A face followed over time: a run of sampled frames on which a face box overlaps the previous frame's box of the
/// track. No identity: the same person leaving and coming back is two tracks. It ends where the next sample (the
/// first without the face) starts, one interval after the last sighting when none follows soon, never past the video's end.
/// </summary>
public sealed record FaceTrack(int Index, long StartTimestampMillis, long EndTimestampMillis, int Samples, double Confidence, double MaxFaceHeight)
{
    public long DurationMillis => EndTimestampMillis - StartTimestampMillis;

    /// <summary>The shot size of the track's largest sighting (<see cref="ShotSizes"/>).</summary>
    public string? ShotSize => ShotSizes.From(MaxFaceHeight);
}

/// <summary>
/// A stretch of the timeline with the same number of faces and the same shot size on every sample (0 faces and no
/// shot size included): what "close-ups of one person" or "empty frames" search for in a video.
/// </summary>
public sealed record FaceSpan(long StartTimestampMillis, long EndTimestampMillis, int Faces, string? ShotSize, double? MaxFaceHeight)
{
    public long DurationMillis => EndTimestampMillis - StartTimestampMillis;
}

/// <summary>A video's face tracks and face spans, derived from its sampled frames' Face instances.</summary>
public sealed record VideoFaces(IReadOnlyList<FaceTrack> Tracks, IReadOnlyList<FaceSpan> Spans);

/// <summary>Builds <see cref="VideoFaces"/> from every sampled frame's time and the frames' Face label instances.</summary>
public static class FaceTracks
{
    public static VideoFaces Build(IReadOnlyList<long> sampledTimestamps, IReadOnlyList<FrameLabels> frames, long intervalMillis, long? durationMillis)
    {
        ArgumentNullException.ThrowIfNull(sampledTimestamps);
        ArgumentNullException.ThrowIfNull(frames);
        var samples = sampledTimestamps.Distinct().Order().ToArray();
        var facesAt = frames
            .GroupBy(f => f.TimestampMillis)
            .ToDictionary(
                g => g.Key,
                g => g.SelectMany(f => f.Labels).Where(l => l.Name.Equals(DetectedFaces.FaceLabel, StringComparison.OrdinalIgnoreCase)).SelectMany(l => l.Instances).ToList());

        // Where the sample at index i stops counting: at the next sample when it comes within two intervals (sample
        // times follow the frames, so the next one is often a frame past the interval), else one interval on; never
        // past the video's end. So the stretches of the timeline meet without gaps.
        long EndAfter(int i)
        {
            var end = i + 1 < samples.Length && samples[i + 1] - samples[i] <= 2 * intervalMillis ? samples[i + 1] : samples[i] + intervalMillis;
            if (durationMillis is { } duration && duration > samples[i])
            {
                end = Math.Min(end, duration);
            }

            return Math.Max(end, samples[i]);
        }

        var tracks = new List<(int First, int Last, BoundingBox Box, int Samples, double Confidence, double Height)>();
        var open = new List<int>();
        var spans = new List<FaceSpan>();
        for (var i = 0; i < samples.Length; i++)
        {
            var faces = facesAt.GetValueOrDefault(samples[i]) ?? [];
            var continued = new List<int>();
            // Larger faces pick first: a close face keeps its track when a small one drifts across it.
            foreach (var face in faces.OrderByDescending(f => f.BoundingBox.Area))
            {
                var match = open.Where(t => !continued.Contains(t) && Overlap(tracks[t].Box, face.BoundingBox) > 0).OrderByDescending(t => Overlap(tracks[t].Box, face.BoundingBox)).Cast<int?>().FirstOrDefault();
                if (match is { } t)
                {
                    var track = tracks[t];
                    tracks[t] = (track.First, i, face.BoundingBox, track.Samples + 1, Math.Max(track.Confidence, face.Confidence), Math.Max(track.Height, face.BoundingBox.Height));
                    continued.Add(t);
                }
                else
                {
                    tracks.Add((i, i, face.BoundingBox, 1, face.Confidence, face.BoundingBox.Height));
                    continued.Add(tracks.Count - 1);
                }
            }

            open = continued;

            var height = faces.Count > 0 ? faces.Max(f => f.BoundingBox.Height) : (double?)null;
            var shot = ShotSizes.From(height);
            if (spans.Count > 0 && spans[^1].Faces == faces.Count && spans[^1].ShotSize == shot && spans[^1].EndTimestampMillis == samples[i])
            {
                var last = spans[^1];
                spans[^1] = last with { EndTimestampMillis = EndAfter(i), MaxFaceHeight = height is null ? null : Math.Max(last.MaxFaceHeight ?? 0, height.Value) };
            }
            else
            {
                spans.Add(new FaceSpan(samples[i], EndAfter(i), faces.Count, shot, height));
            }
        }

        var built = tracks
            .OrderBy(t => t.First)
            .Select((t, index) => new FaceTrack(index, samples[t.First], EndAfter(t.Last), t.Samples, t.Confidence, t.Height))
            .ToList();
        return new VideoFaces(built, spans);
    }

    /// <summary>Intersection over union of two boxes (0 when they do not touch).</summary>
    public static double Overlap(BoundingBox a, BoundingBox b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var width = Math.Min(a.Left + a.Width, b.Left + b.Width) - Math.Max(a.Left, b.Left);
        var height = Math.Min(a.Top + a.Height, b.Top + b.Height) - Math.Max(a.Top, b.Top);
        if (width <= 0 || height <= 0)
        {
            return 0;
        }

        var intersection = width * height;
        return intersection / (a.Area + b.Area - intersection);
    }
}
