// The services' meters, with exemplars: a MeterProvider that hands out the SDK provider's meters
// unchanged except for createHistogram, which makes exemplar histograms (histogram.ts) in `store`.
// telemetry.ts registers it as the global MeterProvider, so the code that records measurements uses
// the plain API (metrics.getMeter(...).createHistogram(...)) and never knows about exemplars.
import type { Meter, MeterOptions, MeterProvider } from '@opentelemetry/api';
import { createExemplarHistogram } from './histogram.ts';
import type { ExemplarStore } from './store.ts';

export function meterProviderWithExemplars(provider: MeterProvider, store: ExemplarStore): MeterProvider {
  return {
    getMeter(name: string, version?: string, options?: MeterOptions): Meter {
      const meter = provider.getMeter(name, version, options);
      return {
        createHistogram: (instrument, metricOptions = {}) => createExemplarHistogram(meter, instrument, metricOptions, store),
        createCounter: (instrument, metricOptions) => meter.createCounter(instrument, metricOptions),
        createGauge: (instrument, metricOptions) => meter.createGauge(instrument, metricOptions),
        createUpDownCounter: (instrument, metricOptions) => meter.createUpDownCounter(instrument, metricOptions),
        createObservableGauge: (instrument, metricOptions) => meter.createObservableGauge(instrument, metricOptions),
        createObservableCounter: (instrument, metricOptions) => meter.createObservableCounter(instrument, metricOptions),
        createObservableUpDownCounter: (instrument, metricOptions) => meter.createObservableUpDownCounter(instrument, metricOptions),
        addBatchObservableCallback: (callback, observables) => meter.addBatchObservableCallback(callback, observables),
        removeBatchObservableCallback: (callback, observables) => meter.removeBatchObservableCallback(callback, observables),
      };
    },
  };
}
