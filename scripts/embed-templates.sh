#!/usr/bin/env bash
# Regenerates Sources/SweepRunner/Sweep/SlurmTemplates.swift from slurm/*.sbatch (the test
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
