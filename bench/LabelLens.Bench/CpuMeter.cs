using System.Diagnostics;
using System.Globalization;

namespace LabelLens.Bench;

/// <summary>What a <see cref="CpuMeter"/> saw: wall time, and CPU shares of all the machine's cores.</summary>
/// <param name="Ours">This process (plus any processes the meter was told to watch, such as a server it started).</param>
/// <param name="Watched">The watched processes alone (0 when there are none).</param>
/// <param name="Others">Every other process, or the hypervisor as steal, from /proc/stat; null where there is no /proc/stat.</param>
public sealed record CpuReading(TimeSpan Wall, double Ours, double Watched, double? Others);

/// <summary>
/// Wall time, the CPU time of this process (and of watched child processes), and the whole machine's CPU
/// time, from creation to <see cref="Stop()"/>. The share the other processes took says whether the machine
/// was quiet during the measurement.
/// </summary>
public sealed class CpuMeter
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly TimeSpan _cpuAtStart = Environment.CpuUsage.TotalTime;
    private readonly int[] _watched;
    private readonly TimeSpan _watchedAtStart;
    private readonly (long Busy, long Total)? _machineAtStart = MachineCpu();

    public CpuMeter(params int[] watchedProcessIds)
    {
        _watched = watchedProcessIds;
        _watchedAtStart = WatchedCpu();
    }

    public CpuReading Stop()
    {
        var wall = Stopwatch.GetElapsedTime(_started);
        var cores = wall * Environment.ProcessorCount;
        var self = (Environment.CpuUsage.TotalTime - _cpuAtStart) / cores;
        var watched = (WatchedCpu() - _watchedAtStart) / cores;
        double? others = null;
        if (_machineAtStart is { } start && MachineCpu() is { } end && end.Total > start.Total)
        {
            var machine = (end.Busy - start.Busy) / (double)(end.Total - start.Total);
            others = Math.Max(0, machine - self - watched);
        }

        return new CpuReading(wall, self + watched, watched, others);
    }

    /// <summary>Images per second over the metered time, with this process's CPU share and the others'.</summary>
    public Rate Stop(int images)
    {
        var reading = Stop();
        return new Rate(images / reading.Wall.TotalSeconds, reading.Ours, reading.Others);
    }

    private TimeSpan WatchedCpu() => _watched.Aggregate(TimeSpan.Zero, (sum, pid) => sum + (ProcessCpu(pid) ?? TimeSpan.Zero));

    /// <summary>User plus system time of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s).</summary>
    private static TimeSpan? ProcessCpu(int pid)
    {
        var path = $"/proc/{pid}/stat";
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            var text = File.ReadAllText(path);
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / 100.0);
        }
        catch (IOException)
        {
            return null; // the process just exited
        }
    }

    /// <summary>Busy and total time of all cores (in clock ticks) from /proc/stat's first line, where there is one.</summary>
    private static (long Busy, long Total)? MachineCpu()
    {
        const string procStat = "/proc/stat";
        if (!File.Exists(procStat))
        {
            return null;
        }

        // cpu user nice system idle iowait irq softirq steal ...
        var ticks = File.ReadLines(procStat).First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
            .Select(t => long.Parse(t, CultureInfo.InvariantCulture)).ToArray();
        var total = ticks.Sum();
        return (total - ticks[3] - ticks[4], total);
    }
}
