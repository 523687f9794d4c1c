#!/usr/bin/env bash
# Regenerates Sources/SweepRunner/Sweep/SlurmTemplates.swift from slurm/*.sbatch and
# Sources/SweepRunner/Analysis/ReportFigures.swift from scripts/report_figures.py (the test
# suite fails when the two differ).
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo '// The sbatch templates built into the tool, so that a copied or installed binary needs no'
  echo '// files beside it. They are the text of slurm/sweep.sbatch and slurm/aggregate.sbatch (a test'
  echo '// checks that they match; scripts/embed-templates.sh regenerates this file);'
  echo '// `mfsweep submit --templates DIR` renders edited copies instead.'
  echo
  echo 'public enum SlurmTemplates {'
  echo '  public static let sweep = #"""'
  cat slurm/sweep.sbatch
  echo
  echo '"""#'
  echo
  echo '  public static let aggregate = #"""'
  cat slurm/aggregate.sbatch
  echo
  echo '"""#'
  echo '}'
} > Sources/SweepRunner/Sweep/SlurmTemplates.swift
# In the tree's format (the string values do not change: swift-format indents a multi-line
# literal together with its closing delimiter).
swift format -i Sources/SweepRunner/Sweep/SlurmTemplates.swift

# The figure script of `mfsweep report`, from scripts/report_figures.py.
{
  echo '// The figure script of `mfsweep report` (the text of scripts/report_figures.py, built into the'
  echo '// tool so that a copied binary needs no files beside it; scripts/embed-templates.sh'
  echo '// regenerates this file and a test checks that they match).'
  echo
  echo 'public enum ReportFigures {'
  echo '  public static let script = #"""'
  cat scripts/report_figures.py
  echo
  echo '"""#'
  echo '}'
} > Sources/SweepRunner/Analysis/ReportFigures.swift
swift format -i Sources/SweepRunner/Analysis/ReportFigures.swift
