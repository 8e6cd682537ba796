// The event bus: engine services publish lifecycle events in Docker's event shape; the API's
// /events endpoint and internal watchers (restart policies, waits) subscribe.
import { EventEmitter } from 'node:events';

export interface EngineEvent {
  Type: 'container' | 'image' | 'volume' | 'network' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  status?: string;
  id?: string;
  from?: string;
}

export class EventBus extends EventEmitter {
  private history: EngineEvent[] = [];

  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const now = Date.now();
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Math.floor(now / 1000),
      timeNano: now * 1e6,
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.history.push(ev);
    if (this.history.length > 1000) this.history.splice(0, this.history.length - 1000);
    this.emit('event', ev);
  }

  since(timeSec: number): EngineEvent[] {
    return this.history.filter((e) => e.time >= timeSec);
  }
}
