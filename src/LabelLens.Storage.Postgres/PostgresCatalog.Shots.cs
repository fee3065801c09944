using LabelLens.Video;
using Npgsql;

namespace LabelLens.Storage.Postgres;

/// <summary>A video's shots and technical cues, face tracks and face spans (part of IVideoCatalog).</summary>
public sealed partial class PostgresCatalog
{
    public async Task<Dictionary<string, VideoCuts>> GetVideoCutsAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return [];
        }

        await using var connection = await OpenAsync(cancellationToken);
        var shots = await QueryAsync(
            connection,
            null,
            "SELECT image_id, shot, start_ms, end_ms, start_frame, end_frame, confidence FROM video_shots WHERE image_id = ANY(@ids) ORDER BY image_id, shot",
            r => (Id: r.GetString(0), Shot: new VideoShot(r.GetInt32(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetDouble(6))),
            cancellationToken,
            IdArray("ids", ids));
        var cues = (await QueryAsync(
            connection,
            null,
            "SELECT image_id, type, start_ms, end_ms, start_frame, end_frame, confidence FROM video_cues WHERE image_id = ANY(@ids) ORDER BY image_id, cue",
            r => (Id: r.GetString(0), Cue: new TechnicalCue(r.GetString(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetDouble(6))),
            cancellationToken,
            IdArray("ids", ids))).ToLookup(c => c.Id, c => c.Cue, StringComparer.Ordinal);

        // A video's cues are stored with its shots: one without shots has not been through shot detection.
        return shots.GroupBy(s => s.Id, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new VideoCuts(g.Select(s => s.Shot).ToList(), cues[g.Key].ToList()), StringComparer.Ordinal);
    }

    public async Task<Dictionary<string, VideoFaces>> GetVideoFacesAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0)
        {
            return [];
        }

        await using var connection = await OpenAsync(cancellationToken);
        var tracks = (await QueryAsync(
            connection,
            null,
            "SELECT image_id, track, start_ms, end_ms, samples, confidence, face_height FROM video_face_tracks WHERE image_id = ANY(@ids) ORDER BY image_id, track",
            r => (Id: r.GetString(0), Track: new FaceTrack(r.GetInt32(1), r.GetInt64(2), r.GetInt64(3), r.GetInt32(4), r.GetDouble(5), r.GetDouble(6))),
            cancellationToken,
            IdArray("ids", ids))).ToLookup(t => t.Id, t => t.Track, StringComparer.Ordinal);
        var spans = await QueryAsync(
            connection,
            null,
            "SELECT image_id, start_ms, end_ms, faces, shot, face_height FROM video_face_spans WHERE image_id = ANY(@ids) ORDER BY image_id, start_ms",
            r => (Id: r.GetString(0), Span: new FaceSpan(r.GetInt64(1), r.GetInt64(2), r.GetInt32(3), r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetDouble(5))),
            cancellationToken,
            IdArray("ids", ids));

        // Spans cover the whole analysed timeline (0-face stretches too): a video without spans was not analysed.
        return spans.GroupBy(s => s.Id, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => new VideoFaces(tracks[g.Key].ToList(), g.Select(s => s.Span).ToList()), StringComparer.Ordinal);
    }

    /// <summary>Replaces the video's shots, cues, face tracks and spans with a completed job's (<paramref name="faces"/> null: no face analysis).</summary>
    private static async Task SaveCutsAndFacesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string imageId, VideoCompletion completion, VideoFaces? faces, CancellationToken cancellationToken)
    {
        var shots = completion.Cuts.Shots;
        var cues = completion.Cuts.TechnicalCues;
        await ExecuteAsync(
            connection,
            transaction,
            """
            DELETE FROM video_shots WHERE image_id = @id;
            DELETE FROM video_cues WHERE image_id = @id;
            DELETE FROM video_face_tracks WHERE image_id = @id;
            DELETE FROM video_face_spans WHERE image_id = @id;
            INSERT INTO video_shots (image_id, shot, start_ms, end_ms, start_frame, end_frame, confidence)
            SELECT @id, * FROM unnest(@shot::int[], @shot_start::int8[], @shot_end::int8[], @shot_sf::int8[], @shot_ef::int8[], @shot_c::float8[]);
            INSERT INTO video_cues (image_id, cue, type, start_ms, end_ms, start_frame, end_frame, confidence)
            SELECT @id, c.n - 1, c.type, c.s, c.e, c.sf, c.ef, c.c
            FROM unnest(@cue_type::text[], @cue_start::int8[], @cue_end::int8[], @cue_sf::int8[], @cue_ef::int8[], @cue_c::float8[]) WITH ORDINALITY AS c (type, s, e, sf, ef, c, n)
            """,
            cancellationToken,
            ("id", imageId),
            ("shot", shots.Select(s => s.Index).ToArray()), ("shot_start", shots.Select(s => s.StartTimestampMillis).ToArray()), ("shot_end", shots.Select(s => s.EndTimestampMillis).ToArray()),
            ("shot_sf", shots.Select(s => s.StartFrameNumber).ToArray()), ("shot_ef", shots.Select(s => s.EndFrameNumber).ToArray()), ("shot_c", shots.Select(s => s.Confidence).ToArray()),
            ("cue_type", cues.Select(c => c.Type).ToArray()), ("cue_start", cues.Select(c => c.StartTimestampMillis).ToArray()), ("cue_end", cues.Select(c => c.EndTimestampMillis).ToArray()),
            ("cue_sf", cues.Select(c => c.StartFrameNumber).ToArray()), ("cue_ef", cues.Select(c => c.EndFrameNumber).ToArray()), ("cue_c", cues.Select(c => c.Confidence).ToArray()));
        if (faces is null)
        {
            return;
        }

        // Spans are keyed by their start; a repeated start keeps the last, as SQLite's INSERT OR REPLACE does.
        var spans = faces.Spans.GroupBy(s => s.StartTimestampMillis).Select(g => g.Last()).ToList();
        await ExecuteAsync(
            connection,
            transaction,
            """
            INSERT INTO video_face_tracks (image_id, track, start_ms, end_ms, samples, confidence, face_height)
            SELECT @id, * FROM unnest(@track::int[], @track_start::int8[], @track_end::int8[], @track_samples::int[], @track_c::float8[], @track_h::float8[]);
            INSERT INTO video_face_spans (image_id, start_ms, end_ms, faces, shot, face_height)
            SELECT @id, * FROM unnest(@span_start::int8[], @span_end::int8[], @span_faces::int[], @span_shot::text[], @span_h::float8[])
            """,
            cancellationToken,
            ("id", imageId),
            ("track", faces.Tracks.Select(t => t.Index).ToArray()), ("track_start", faces.Tracks.Select(t => t.StartTimestampMillis).ToArray()), ("track_end", faces.Tracks.Select(t => t.EndTimestampMillis).ToArray()),
            ("track_samples", faces.Tracks.Select(t => t.Samples).ToArray()), ("track_c", faces.Tracks.Select(t => t.Confidence).ToArray()), ("track_h", faces.Tracks.Select(t => t.MaxFaceHeight).ToArray()),
            ("span_start", spans.Select(s => s.StartTimestampMillis).ToArray()), ("span_end", spans.Select(s => s.EndTimestampMillis).ToArray()), ("span_faces", spans.Select(s => s.Faces).ToArray()),
            ("span_shot", spans.Select(s => s.ShotSize).ToArray()), ("span_h", spans.Select(s => s.MaxFaceHeight).ToArray()));
    }
}
