using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(Mesh.Benchmarks.PipelineBenchmarks).Assembly).Run(args);
