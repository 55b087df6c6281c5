// A migration's target reservation is an instance row of its own until the switch. Its name
// says whose it is; "--" never appears in an instance name, so it cannot clash with one.
export const RESERVATION_MARK = '--moving-';

export const reservationName = (instanceName: string, opId: string) => `${instanceName}${RESERVATION_MARK}${opId.slice(3, 11)}`;

export const isReservation = (name: string) => name.includes(RESERVATION_MARK);
