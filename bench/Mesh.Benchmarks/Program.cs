using Perfolizer.Metrology;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// `--smoke`: every benchmark once, in this process, whatever the build configuration: it checks that they run, in
// seconds, and measures nothing worth reading.
var smoke = args.Contains("--smoke");
var config = smoke
    ? DefaultConfig.Instance
        .AddJob(Job.Dry.WithToolchain(InProcessEmitToolchain.Instance))
        .WithOptions(ConfigOptions.DisableOptimizationsValidator)
    : DefaultConfig.Instance.WithSummaryStyle(SummaryStyle.Default.WithSizeUnit(SizeUnit.B)); // bytes are exact: show them whole
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Mesh.Benchmarks.PipelineBenchmarks).Assembly)
    .Run([.. args.Where(a => a != "--smoke")], config);

// A benchmark that threw leaves its report without results; say so with the exit code.
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
